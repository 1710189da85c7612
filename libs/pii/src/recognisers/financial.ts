import validator from 'validator';
import { PatternRecogniser } from './pattern-recogniser';

const digitsOf = (value: string) => value.replace(/[\s-]/g, '');

/**
 * IBANs (ISO 13616), compact or in groups of four, confirmed by validator's country length and
 * mod-97 check; payment cards of 13-19 digits (groups of 4, or Amex 4-6-5) confirmed by the Luhn
 * checksum (validator) and a card network's first digit; bank account numbers of 8-12 digits after an account cue
 * ("account number", "acct #", "account no."), which have no checksum to confirm them.
 */
export function financialRecogniser(): PatternRecogniser {
  return new PatternRecogniser('financial', [
    {
      type: 'IBAN',
      pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g,
      score: 0.95,
      accept: (value) => validator.isIBAN(value.replace(/ /g, '')),
    },
    {
      type: 'PAYMENT_CARD',
      pattern: /(?<![\d-])(?:\d{4}[ -]?\d{6}[ -]?\d{5}|\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,7})(?!\d|[ -]\d)/g,
      score: 0.95,
      accept: (value) => {
        const digits = digitsOf(value);
        // Networks' first digits (2-6: Mastercard 2-series, Amex, Visa, Mastercard, Discover/UnionPay).
        return (
          digits.length >= 13 &&
          digits.length <= 19 &&
          /^[2-6]/.test(digits) &&
          validator.isLuhnNumber(digits)
        );
      },
    },
    {
      type: 'BANK_ACCOUNT',
      pattern:
        /\b(?:bank account|account|acct)(?: number| no\.?| #| nr\.?)?(?: is)?:? ?(?<value>\d{8,12}|\d{4} \d{4} \d{2,4})\b/gi,
      score: 0.8,
    },
  ]);
}
