/** The kinds of personal data and secrets the platform recognises. */
export const PII_ENTITY_TYPES = [
  'PERSON',
  'EMAIL',
  'PHONE',
  'POSTAL_ADDRESS',
  'IBAN',
  'BANK_ACCOUNT',
  'PAYMENT_CARD',
  'US_SSN',
  'UK_NI',
  'EU_NATIONAL_ID',
  'IP_ADDRESS',
  'API_KEY',
  'BEARER_TOKEN',
  'DATE_OF_BIRTH',
] as const;
export type PiiEntityType = (typeof PII_ENTITY_TYPES)[number];

/** Whether a string names a PII entity type. */
export function isPiiEntityType(value: string): value is PiiEntityType {
  return (PII_ENTITY_TYPES as readonly string[]).includes(value);
}

/**
 * One detected entity. `start` and `end` are UTF-16 code unit offsets into the scanned text
 * (`text === scanned.slice(start, end)`); `score` is the recogniser's confidence from 0 to 1.
 */
export interface PiiSpan {
  readonly type: PiiEntityType;
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly score: number;
}

/** The detection port: finds the PII entities in a text. Implementations never throw for odd input. */
export interface PiiDetector {
  /** A short name for reports (e.g. `openredaction`). */
  readonly name: string;
  /** Spans found in `text`, ordered by start offset, non-overlapping. */
  detect(text: string): PiiSpan[];
}

/** A span of `type` covering `text.slice(start, end)`. */
export function spanOf(
  text: string,
  type: PiiEntityType,
  start: number,
  end: number,
  score: number,
): PiiSpan {
  return { type, start, end, text: text.slice(start, end), score };
}
