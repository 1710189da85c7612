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

const shapeDetector = new PhoneNumberDetector();
const phones = (text: string): string[] => shapeDetector.detect(text).map((span) => span.text);

describe('PhoneNumberDetector: where a phone shape must start', () => {
  beforeEach(() => matcher.mockClear());

  it.each([
    ['+49 170 1234567', 'call me on +49 170 1234567.'],
    ['(415) 555-0132', 'my phone is (415) 555-0132.'],
    ['415-555-0132', 'or 415-555-0132 after six'],
    ['030 12345678', 'Festnetz 030 12345678 bitte'],
    ['020 7946 0958', 'London office: 020 7946 0958'],
  ])('finds %s', (phone, text) => {
    expect(phones(text)).toEqual([phone]);
  });

  it.each([
    // Each with nine digits in a row, separators allowed (the detector's first check).
    ['a SHA-256 in hex', 'ec31682fde561917952ff78a7a8adeffd0febc372dd26871916c46c630381b45'],
    ['a UUID', '270c1b08-4f3f-446e-8578-7075158d9c53'],
    ['an order number', 'order 123456789012 shipped'],
    ['an invoice id and a date', 'invoice INV-2024-000123456 dated 2024-03-01'],
  ])('leaves libphonenumber-js alone for %s, which holds no phone shape', (_what, text) => {
    expect(phones(text)).toEqual([]);
    expect(matcher).not.toHaveBeenCalled();
  });

  it('finds nothing in ids of any kind, with or without the call', () => {
    for (let i = 0; i < 200; i++) {
      const id = i % 2 === 0 ? randomUUID() : createHash('sha256').update(String(i)).digest('hex');
      expect(phones(id)).toEqual([]);
    }
  });
});
