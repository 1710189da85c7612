import { PatternRecogniser, precededBy } from './pattern-recogniser';

const SSN_CUE = /\b(ssn|social security|ss#|ss no)\b/;
const NI_CUE = /\b(ni|nino|national insurance)\b/;

/**
 * US Social Security numbers (AAA-GG-SSSS; area not 000, 666 or 9xx, group not 00, serial not
 * 0000 — the SSA's rules), dashed anywhere or space-separated after an SSN cue; UK National
 * Insurance numbers (two prefix letters outside D, F, I, Q, U, V for the first and D, F, I, O, Q,
 * U, V for the second, not BG, GB, KN, NK, NT, TN or ZZ — HMRC's rules; six digits; suffix A-D),
 * where TN and any other two-letter prefix are accepted after an NI cue. The EU national id (the
 * Spanish DNI/NIE with its check letter) comes from OpenRedaction, which measured 100 % on it.
 */
export function nationalIdRecogniser(): PatternRecogniser {
  return new PatternRecogniser('national-ids', [
    {
      type: 'US_SSN',
      pattern: /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g,
      score: 0.85,
    },
    {
      type: 'US_SSN',
      pattern: /(?<![\d-])(?!000|666|9\d\d)\d{3} (?!00)\d{2} (?!0000)\d{4}(?![\d-])/g,
      score: 0.85,
      accept: (_value, text, start) => precededBy(text.toLowerCase(), start, SSN_CUE),
    },
    {
      type: 'UK_NI',
      pattern: /\b(?!BG|GB|KN|NK|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/g,
      score: 0.85,
      accept: (value, text, start) =>
        !value.startsWith('TN') || precededBy(text.toLowerCase(), start, NI_CUE),
    },
    {
      // Any two-letter prefix (HMRC's example QQ, administrative ones) when an NI cue precedes it.
      type: 'UK_NI',
      pattern: /\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/g,
      score: 0.8,
      accept: (_value, text, start) => precededBy(text.toLowerCase(), start, NI_CUE, 60),
    },
  ]);
}
