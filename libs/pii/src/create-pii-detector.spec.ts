import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveOverlaps } from './composite-detector';
import { createPiiDetector } from './create-pii-detector';
import { OpenRedactionDetector } from './openredaction-detector';
import type { PiiEntityType, PiiSpan } from './pii-detector';

const detector = createPiiDetector();
const found = (text: string): Array<[PiiEntityType, string]> =>
  detector.detect(text).map((span) => [span.type, span.text]);

describe('createPiiDetector', () => {
  it.each<[PiiEntityType, string, string]>([
    ['PERSON', 'Regards, Maria Schneider', 'Maria Schneider'],
    ['EMAIL', 'write to jp.dubois@orange.fr today', 'jp.dubois@orange.fr'],
    ['PHONE', 'call me on +49 170 1234567.', '+49 170 1234567'],
    ['PHONE', 'my phone is (415) 555-0132.', '(415) 555-0132'],
    [
      'POSTAL_ADDRESS',
      'I moved to 221B Baker Street, London NW1 6XE. Thanks',
      '221B Baker Street, London NW1 6XE',
    ],
    [
      'POSTAL_ADDRESS',
      'Ship to Keizersgracht 123, 1015 CJ Amsterdam.',
      'Keizersgracht 123, 1015 CJ Amsterdam',
    ],
    ['IBAN', 'refund to DE89 3704 0044 0532 0130 00 please', 'DE89 3704 0044 0532 0130 00'],
    ['BANK_ACCOUNT', 'from account number 31926819 monthly', '31926819'],
    ['PAYMENT_CARD', 'my card 4111 1111 1111 1111 was charged', '4111 1111 1111 1111'],
    ['US_SSN', 'SSN 536-22-8190 for the form', '536-22-8190'],
    ['UK_NI', 'NI number AB 12 34 56 D.', 'AB 12 34 56 D'],
    ['EU_NATIONAL_ID', 'mi DNI 48291736Q adjunto', '48291736Q'],
    ['IP_ADDRESS', 'from 2001:db8:85a3::8a2e:370:7334 and', '2001:db8:85a3::8a2e:370:7334'],
    ['IP_ADDRESS', 'host 10.20.30.41 failed', '10.20.30.41'],
    [
      'API_KEY',
      'the key sk-proj-7Hq2xLm9PzR4tVb8NcWd3KfJ6sAe1YuG leaked',
      'sk-proj-7Hq2xLm9PzR4tVb8NcWd3KfJ6sAe1YuG',
    ],
    [
      'BEARER_TOKEN',
      'Authorization: Bearer 9c1f4e7a2b5d8c3e6f9a1b4c7d0e3f6a',
      '9c1f4e7a2b5d8c3e6f9a1b4c7d0e3f6a',
    ],
    ['DATE_OF_BIRTH', 'I was born on 14/03/1985 in Leeds', '14/03/1985'],
  ])('finds %s in %j', (type, text, value) => {
    expect(found(text)).toContainEqual([type, value]);
  });

  it.each([
    'order ORD-2024-88812 shipped',
    'upgrade to version 4.2.1 failed',
    'invoice INV-2024-00917 dated 2024-03-01',
    'order number 4000123412341235 is not a card',
    'Acme Corp and Deutsche Telekom AG signed',
    'release 2024.06.3 rolled out, build 88412',
    'listening on http://127.0.0.1:18581 and 0.0.0.0:8080',
    'proxy at http://[::1]:8080 refused',
  ])('leaves the near miss %j alone', (text) => {
    expect(found(text)).toEqual([]);
  });

  it('returns offsets into the scanned text, ordered and non-overlapping', () => {
    const text = 'Maria Schneider (maria@example.de, +49 170 1234567) paid with 4111 1111 1111 1111.';
    const spans = detector.detect(text);
    expect(spans.length).toBeGreaterThanOrEqual(4);
    spans.forEach((span, i) => {
      expect(text.slice(span.start, span.end)).toBe(span.text);
      if (i > 0) expect(span.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
    });
  });

  it('keeps OpenRedaction from reading or writing a learning store in the working directory', () => {
    new OpenRedactionDetector().detect('mail maria@example.de');
    expect(existsSync(join(process.cwd(), '.openredaction'))).toBe(false);
  });
});

describe('resolveOverlaps', () => {
  const span = (type: PiiEntityType, start: number, end: number, score: number): PiiSpan => ({
    type,
    start,
    end,
    text: 'x'.repeat(end - start),
    score,
  });

  it('keeps the higher-scoring span of two overlapping ones, then the longer one', () => {
    expect(
      resolveOverlaps([span('PHONE', 0, 10, 0.7), span('US_SSN', 2, 13, 0.85), span('PERSON', 20, 25, 0.5)]),
    ).toEqual([span('US_SSN', 2, 13, 0.85), span('PERSON', 20, 25, 0.5)]);
    expect(resolveOverlaps([span('PERSON', 0, 4, 0.6), span('PERSON', 0, 9, 0.6)])).toEqual([
      span('PERSON', 0, 9, 0.6),
    ]);
  });
});
