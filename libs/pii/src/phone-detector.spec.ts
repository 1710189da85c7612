import { createHash, randomUUID } from 'node:crypto';
import * as libphonenumber from 'libphonenumber-js/max';
import { PhoneNumberDetector } from './phone-detector';

jest.mock('libphonenumber-js/max', () => {
  const actual = jest.requireActual<typeof import('libphonenumber-js/max')>('libphonenumber-js/max');
  return { ...actual, findPhoneNumbersInText: jest.fn(actual.findPhoneNumbersInText) };
});
const matcher = libphonenumber.findPhoneNumbersInText as jest.MockedFunction<
  typeof libphonenumber.findPhoneNumbersInText
>;
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'ES', 'IT', 'NL'] as const;

/** Digests and UUIDs with nine digits in a row somewhere (they pass the nine-digit check). */
function hexTokens(): string[] {
  const tokens: string[] = [];
  for (let i = 0; tokens.length < 60; i++) {
    const digest = createHash('sha256').update(String(i)).digest('hex');
    const uuid = randomUUID();
    for (const token of [
      digest,
      uuid,
      digest.toUpperCase(),
      `${digest.slice(0, 20)}-${digest.slice(20, 40)}`,
    ])
      if (/(?:\d[\s()./-]{0,2}){9}/.test(token) && /[a-f]/i.test(token)) tokens.push(token);
  }
  return tokens;
}

describe('PhoneNumberDetector', () => {
  afterEach(() => matcher.mockClear());

  it('runs no matcher over a digest or a UUID, where no number could pass: none spans the whole token', () => {
    const detector = new PhoneNumberDetector();
    for (const token of hexTokens()) {
      expect(detector.detect(token)).toEqual([]);
      // What the matcher finds in one is glued to a letter, a digit or a hyphen on some side, which
      // the detector refuses: only a number spanning the whole token could be a PHONE span.
      for (const country of COUNTRIES)
        for (const found of jest
          .requireActual<typeof import('libphonenumber-js/max')>('libphonenumber-js/max')
          .findPhoneNumbersInText(token, { defaultCountry: country, extended: true }))
          expect(found.startsAt > 0 || found.endsAt < token.length).toBe(true);
    }
    expect(matcher).not.toHaveBeenCalled();
  });

  it('still finds a number in a text that also holds a digest, and in a token of digits and hyphens', () => {
    const detector = new PhoneNumberDetector();
    const digest = createHash('sha256').update('x').digest('hex');
    const text = `digest ${digest}, call +44 20 7946 0958 today`;
    expect(detector.detect(text).map((s) => text.slice(s.start, s.end))).toEqual(['+44 20 7946 0958']);
    expect(detector.detect('020-7946-0958').map((s) => s.type)).toEqual(['PHONE']);
    expect(matcher).toHaveBeenCalled();
  });
});
