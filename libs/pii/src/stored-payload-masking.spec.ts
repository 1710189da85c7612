import { randomBytes } from 'node:crypto';
import { createPiiDetector } from './create-pii-detector';
import type { PiiDetector, PiiSpan } from './pii-detector';
import { resolvePiiPolicy } from './pii-policy';
import { PiiProtection } from './pii-protection';
import { PiiVault, sealVault } from './pii-vault';
import { SEALED_VAULT_FIELD, StoredPayloadMasking } from './stored-payload-masking';

const detector = createPiiDetector();
const audit = resolvePiiPolicy().audit;
const payload = { requestId: 'r-1', input: { body: 'Call Maria Schneider on +49 170 1234567.' }, attempt: 1 };

describe('StoredPayloadMasking', () => {
  it('with a key: stores masked text and the sealed mapping; readers get masked or raw, never the mapping', () => {
    const masking = new StoredPayloadMasking(new PiiProtection(detector, randomBytes(32)));
    const stored = masking.forStorage(payload, audit, 'acme/src/e-1');
    expect(stored['input']).toEqual({ body: 'Call <PERSON_1> on <PHONE_1>.' });
    expect(stored[SEALED_VAULT_FIELD]).toBeDefined();
    expect(masking.forReader(stored, audit, 'acme/src/e-1', false)).toEqual({
      ...payload,
      input: { body: 'Call <PERSON_1> on <PHONE_1>.' },
    });
    expect(masking.forReader(stored, audit, 'acme/src/e-1', true)).toEqual(payload);
    expect(() => masking.forReader(stored, audit, 'acme/src/e-2', true)).toThrow(/LLMBUS_PII_KEY/);
  });

  it('without a key: stores the payload as received and masks it when read', () => {
    const masking = new StoredPayloadMasking(new PiiProtection(detector, undefined));
    const stored = masking.forStorage(payload, audit, 'acme/src/e-1');
    expect(stored).toEqual(payload);
    expect(masking.forReader(stored, audit, 'acme/src/e-1', false)['input']).toEqual({
      body: 'Call <PERSON_1> on <PHONE_1>.',
    });
    expect(masking.forReader(stored, audit, 'acme/src/e-1', true)).toEqual(payload);
  });

  it('stores a payload with nothing to mask without a mapping', () => {
    const masking = new StoredPayloadMasking(new PiiProtection(detector, randomBytes(32)));
    expect(masking.forStorage({ requestId: 'r-2', attempt: 1 }, audit, 'c')).toEqual({
      requestId: 'r-2',
      attempt: 1,
    });
  });

  it('stores a sealed vault of the payload as it came: its ciphertext is never scanned or altered', () => {
    const key = randomBytes(32);
    const carried = new PiiVault();
    carried.placeholderFor('PERSON', 'Maria Schneider');
    const piiVault = sealVault(carried, key, 'r-3');
    const scanned: string[] = [];
    const counting: PiiDetector = {
      name: 'counting',
      detect(text: string): PiiSpan[] {
        scanned.push(text);
        return detector.detect(text);
      },
    };
    const masking = new StoredPayloadMasking(new PiiProtection(counting, key));
    const stored = masking.forStorage({ ...payload, piiVault }, audit, 'acme/src/e-3');
    expect(stored['piiVault']).toEqual(piiVault);
    expect(stored['input']).toEqual({ body: 'Call <PERSON_1> on <PHONE_1>.' });
    expect(scanned.some((text) => [piiVault.iv, piiVault.tag, piiVault.data].includes(text))).toBe(false);
    expect(masking.forReader(stored, audit, 'acme/src/e-3', true)).toEqual({ ...payload, piiVault });
  });
});
