export const PII_MASKS = {
  email: '[email redacted]',
  card: '[card number redacted]',
  phone: '[phone redacted]',
} as const;

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// 13-19 digits, optionally grouped by single spaces or dashes; confirmed with the Luhn checksum.
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
// International (+CC ...) or North American (555) 123-4567 / 555-123-4567 shapes.
const PHONE =
  /(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|(?:\(\d{3}\)\s?|\b\d{3}[ .-])\d{3}[ .-]\d{4})\b/g;

/** Masks e-mail addresses, payment card numbers and phone numbers in a text. */
export function redactPiiText(text: string): string {
  return text
    .replace(EMAIL, PII_MASKS.email)
    .replace(CARD, (match) => (luhnValid(match.replace(/\D/g, '')) ? PII_MASKS.card : match))
    .replace(PHONE, (match) => {
      const digits = match.replace(/\D/g, '').length;
      return digits >= 9 && digits <= 15 ? PII_MASKS.phone : match;
    });
}

/** Masks PII in every string of a JSON-like value; keys, numbers and booleans are kept. */
export function redactPii<T>(value: T): T {
  return redactValue(value) as T;
}

function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redactPiiText(value);
  if (Array.isArray(value)) return value.map(redactValue);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redactValue(inner)]));
  }
  return value;
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}
