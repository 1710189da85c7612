import { PatternRecogniser, precededBy } from './pattern-recogniser';

const MONTH =
  '(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)';
const DATE = new RegExp(
  `(?<![\\w.-])(?:\\d{4}-\\d{2}-\\d{2}|\\d{1,2}[./]\\d{1,2}[./]\\d{4}|\\d{1,2} ${MONTH} \\d{4}|${MONTH} \\d{1,2},? \\d{4})(?![\\w.-]*\\d)`,
  'g',
);
const BIRTH_CUE = /\b(?:born|birth|dob|d\.o\.b\.?|birthday|geboren|nacimiento|né|née)\b|\bborn on\b/;

const CAP = "[A-ZÀ-Ý][a-zà-ÿ'’-]+";
const US_UK_STREET =
  '(?:Street|St\\.|Road|Rd\\.|Avenue|Ave\\.|Lane|Boulevard|Blvd\\.|Drive|Terrace|Way|Place|Court|Loop|Close|Crescent|Square|Parkway|Highway)';
const STATE_ZIP = '[A-Z]{2} \\d{5}(?:-\\d{4})?';
const UK_POSTCODE = '[A-Z]{1,2}\\d[A-Z\\d]? ?\\d[A-Z]{2}';
const EIRCODE = '[A-Z]\\d{2} ?[A-Z\\d]{4}';
const CITY = `${CAP}(?: ${CAP}){0,2}`;
/** "221B Baker Street, London NW1 6XE", "742 Evergreen Terrace, Springfield, IL 62704", "14 Kingsway, Manchester M19 2LL". */
const NUMBER_FIRST = new RegExp(
  `\\b\\d{1,5}[A-Z]?,? (?:(?:${CAP} ){0,3}${US_UK_STREET}|${CAP}way)(?: (?:NW|NE|SW|SE))?` +
    `(?:, ${CITY})?(?:,? (?:${STATE_ZIP}|${UK_POSTCODE}|${EIRCODE}))?`,
  'g',
);
const ROMANCE_STREET = '(?:Calle|Avenida|Avda\\.|Via|Viale|Piazza|Rua|Plaza|Paseo|Carrer)';
const FRENCH_STREET = '(?:Rue|Avenue|Boulevard|Place|Allée|Chemin|Impasse|Quai)';
const GERMANIC_STREET = `[A-ZÀ-Ý][a-zà-ÿ]+(?:straße|strasse|str\\.|gracht|allee|weg|laan|plein|gasse|platz|ring|damm|kade|straat)`;
const PARTICLE = '(?:de la |de |del |des |du |della |di )?';
const POSTCODE_CITY = `\\d{4,5}(?: [A-Z]{2})? ${CITY}`;
/** "Calle de Alcalá 42, 28014 Madrid", "Keizersgracht 123, 1015 CJ Amsterdam", "15 Rue de la Paix, 75002 Paris". */
const STREET_FIRST = new RegExp(
  `(?:(?:${ROMANCE_STREET} ${PARTICLE}${CAP}(?: ${CAP})?|${GERMANIC_STREET}) \\d{1,4}[a-z]?` +
    `|\\b\\d{1,4},? ${FRENCH_STREET} ${PARTICLE}${CAP}(?: ${CAP})?), ${POSTCODE_CITY}`,
  'g',
);

/**
 * Dates of birth: a date (ISO, day/month/year with dots or slashes, or with a month name) that a
 * birth cue ("born", "DOB", "date of birth") precedes within 30 characters; other dates are not
 * personal data. Postal addresses: a house number and street (English street types, or Spanish,
 * Italian, French, German and Dutch street forms) with the city and postcode that follow.
 */
export function datesAndAddressesRecogniser(): PatternRecogniser {
  return new PatternRecogniser('dates-and-addresses', [
    {
      type: 'DATE_OF_BIRTH',
      pattern: DATE,
      score: 0.9,
      accept: (_value, text, start) => precededBy(text.toLowerCase(), start, BIRTH_CUE, 30),
    },
    { type: 'POSTAL_ADDRESS', pattern: NUMBER_FIRST, score: 0.8 },
    { type: 'POSTAL_ADDRESS', pattern: STREET_FIRST, score: 0.8 },
  ]);
}
