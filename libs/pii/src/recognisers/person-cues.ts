import { PatternRecogniser } from './pattern-recogniser';

const NAME = "[A-ZÀ-Ý][a-zà-ÿ'’]+(?:[ -](?:de |van |von |da |di |del |O')?[A-ZÀ-Ý][a-zà-ÿ'’]+){1,2}";
/** Words that introduce a person in tickets, contracts and alerts (case-insensitive). */
const CUES = [
  'mr\\.?',
  'mrs\\.?',
  'ms\\.?',
  'dr\\.?',
  'contact:?',
  'customer:?',
  'employee:?',
  'tenant:?',
  'landlord:?',
  'applicant:?',
  'borrower:?',
  'guarantor,?',
  'claimant',
  'consultant:?',
  'contractor:?',
  'member:?',
  'candidates?:?',
  '(?:account |card)?holder:?',
  'patient',
  'recipient',
  'owner',
  'regards,',
  'thanks,',
  'attention',
  'beneficiary',
  'arrendatari[oa]:',
  'arrendador[a]?:',
  'operator:',
  'on-call',
  'signed for [\\w ]+ by',
  'for [\\w ]+ by',
  'by',
  'name:',
];
const CUED_NAME = new RegExp(`(?:\\b(?i:${CUES.join('|')})\\s+|^- |\\s- )(?<value>${NAME})`, 'gm');
const ORGANISATION =
  /\b(?:Ltd|GmbH|Inc|Corp|Corporation|AG|LLC|SE|B\.V|Holdings|Industries|Bank|Team|Group)\b/;

/**
 * Person names where the text introduces one ("Contact: Jane Roe", "Tenant: …", "Regards, …", a
 * "- Name" signature): two or three capitalised words after a cue. Complements the NLP detector
 * for names its lexicon does not know.
 */
export function personCueRecogniser(): PatternRecogniser {
  return new PatternRecogniser('person-cues', [
    { type: 'PERSON', pattern: CUED_NAME, score: 0.55, accept: (value) => !ORGANISATION.test(value) },
  ]);
}
