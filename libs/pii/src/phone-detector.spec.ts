import { createHash, randomUUID } from 'node:crypto';
import * as libphonenumber from 'libphonenumber-js/max';
import { PhoneNumberDetector } from './phone-detector';

jest.mock('libphonenumber-js/max', () => {
  const actual = jest.requireActual<typeof libphonenumber>('libphonenumber-js/max');
  return { ...actual, findPhoneNumbersInText: jest.fn(actual.findPhoneNumbersInText) };
});

const findPhoneNumbersInText = jest.mocked(libphonenumber.findPhoneNumbersInText);
const detector = new PhoneNumberDetector();
const phones = (text: string): string[] => detector.detect(text).map((span) => span.text);

describe('PhoneNumberDetector', () => {
  beforeEach(() => findPhoneNumbersInText.mockClear());

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
  ])('leaves libphonenumber-js alone for %s, which holds no phone shape', (_what, text) => {
    expect(phones(text)).toEqual([]);
    expect(findPhoneNumbersInText).not.toHaveBeenCalled();
  });

  it('finds nothing in ids of any kind, with or without the call', () => {
    for (let i = 0; i < 200; i++) {
      const id = i % 2 === 0 ? randomUUID() : createHash('sha256').update(String(i)).digest('hex');
      expect(phones(id)).toEqual([]);
    }
  });
});
