import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js/max';
import { resolveOverlaps } from './composite-detector';
import { spanOf, type PiiDetector, type PiiSpan } from './pii-detector';

/** National numbers: with a trunk prefix (0…, most of Europe) or in the North American 3-3-4 shape. */
const NATIONAL_SHAPE = /^0\d{1,4}[ -]\d|^\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}$/;
const NINE_DIGITS = /(?:\d[\s()./-]{0,2}){9}/;
/**
 * What a text must hold somewhere for phoneShaped to accept any number in it: a "+", or where no
 * word character or hyphen comes before it, a trunk 0 with digits and a separator, or the whole
 * North American 3-3-4 shape with no word character (or hyphen and one) after it. Every value
 * phoneShaped accepts is such a part of the text (NATIONAL_SHAPE, and the glue checks). Ids pass
 * NINE_DIGITS but hold none of these: a SHA-256 in hex (a request's submissionDigest) or a UUID
 * with nine digits cost the auditor about 1 ms each in libphonenumber-js, seven countries over,
 * to find nothing.
 */
const PHONE_SHAPE_SOMEWHERE =
  /\+|(?<![\w-])0\d{1,4}[ -]\d|(?<![\w-])\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}(?!\w|-\w)/;
const DATE_SHAPE = /^\d{4}[-/]\d{1,2}[-/]\d{1,2}$|^\d{1,2}[-/]\d{1,2}[-/]\d{4}$/;
/**
 * A text that is one hexadecimal token, or several joined by single hyphens (a digest, a UUID). A
 * phone number found in it would have to span all of it (phoneShaped refuses one glued to a word
 * character or a hyphen on either side), and a number the matcher finds holds no letter but those of
 * an extension label (x, ext, int, anexo, доб), none of which is a hexadecimal digit.
 */
const HEX_TOKENS = /^[0-9a-f]+(?:-[0-9a-f]+)*$/i;

/**
 * Phone numbers by libphonenumber-js (Google's libphonenumber metadata): numbers of a possible length
 * with a country code anywhere, national numbers valid for one of `countries` (tried in order). Its
 * matcher also accepts ids and dates that happen to be valid numbers, so a candidate must have at
 * least 9 digits, must not be glued to a word or an id ("FR-2024-5531"), must not look like a date,
 * and without a leading "+" must start with a trunk 0 or have the North American 3-3-4 shape (a
 * bare digit run is an order number far more often than a phone number).
 */
export class PhoneNumberDetector implements PiiDetector {
  readonly name = 'libphonenumber-js';

  constructor(
    private readonly countries: readonly CountryCode[] = ['US', 'GB', 'DE', 'FR', 'ES', 'IT', 'NL'],
  ) {}

  /** PHONE spans of valid, phone-shaped numbers. */
  detect(text: string): PiiSpan[] {
    // One pass per country is costly; without nine digits in a row (separators allowed), or without
    // the start of a shape phoneShaped accepts, there is no phone number to report.
    if (!NINE_DIGITS.test(text) || !PHONE_SHAPE_SOMEWHERE.test(text)) return [];
    // Digests and UUIDs pass the nine digits often, and every pass of the matcher over one costs
    // about 80 us: a token with a hexadecimal letter holds no phone number (HEX_TOKENS).
    if (HEX_TOKENS.test(text) && /[a-f]/i.test(text)) return [];
    const spans: PiiSpan[] = [];
    for (const country of this.countries) {
      for (const found of findPhoneNumbersInText(text, { defaultCountry: country, extended: true })) {
        // "(+44 20 …)": the matcher keeps an opening parenthesis before the country code.
        const startsAt = text.startsWith('(+', found.startsAt) ? found.startsAt + 1 : found.startsAt;
        const value = text.slice(startsAt, found.endsAt);
        // International numbers need only a possible length: reserved ranges (fiction, tests) are still someone's.
        const plausible = value.startsWith('+') ? found.number.isPossible() : found.number.isValid();
        if (plausible && phoneShaped(value, text, startsAt, found.endsAt)) {
          spans.push(spanOf(text, 'PHONE', startsAt, found.endsAt, 0.75));
        }
      }
    }
    return resolveOverlaps(spans);
  }
}

function phoneShaped(value: string, text: string, start: number, end: number): boolean {
  const digits = value.replace(/\D/g, '').length;
  if (digits < 9 || value.includes('.') || DATE_SHAPE.test(value)) return false;
  if (/[\w-]/.test(text.charAt(start - 1)) || /^(?:\w|-\w)/.test(text.slice(end, end + 2))) return false;
  return value.startsWith('+') || NATIONAL_SHAPE.test(value);
}
