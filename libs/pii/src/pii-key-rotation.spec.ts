import { randomBytes } from 'node:crypto';
import {
  COMPROMISE_DETECTOR,
  CompromisePersonDetector,
  compromiseTagCalls,
} from './compromise-person-detector';
import { createPiiDetector } from './create-pii-detector';
import { PII_ATTESTATION_HEADER, PiiAttestations } from './pii-attestation';
import { PiiProtection } from './pii-protection';
import { openVault, PiiVault, sealVault } from './pii-vault';

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const ticket =
  'Hello, this is Oliver Twist from the Leeds office.\nMy manager Maria Schmidt asked me to write.';

function vaultOf(value: string): PiiVault {
  const vault = new PiiVault();
  vault.placeholderFor('PERSON', value);
  return vault;
}

describe('PII key rotation (LLMBUS_PII_PREVIOUS_KEYS)', () => {
  it('opens a mapping sealed under a previous key, and under the current one', () => {
    const rotated = new PiiProtection(createPiiDetector(), newKey, [oldKey]);
    const byOld = sealVault(vaultOf('Oliver Twist'), oldKey, 'req-1');
    expect(rotated.open(byOld, 'req-1').valueOf('<PERSON_1>')).toBe('Oliver Twist');
    const byNew = sealVault(vaultOf('Maria Schmidt'), newKey, 'req-2');
    expect(rotated.open(byNew, 'req-2').valueOf('<PERSON_1>')).toBe('Maria Schmidt');
    // The context is still bound under a previous key.
    expect(() => rotated.open(byOld, 'req-other')).toThrow(/cannot be decrypted/);
  });

  it('seals with the current key only: a stage with only the old key cannot open it', () => {
    const rotated = new PiiProtection(createPiiDetector(), newKey, [oldKey]);
    const sealed = rotated.seal(vaultOf('Oliver Twist'), 'req-3');
    expect(openVault(sealed, newKey, 'req-3').valueOf('<PERSON_1>')).toBe('Oliver Twist');
    expect(() => openVault(sealed, oldKey, 'req-3')).toThrow(
      expect.objectContaining({ code: 'pii_key_mismatch' }),
    );
  });

  it('refuses a mapping sealed under a key neither current nor previous, naming both variables', () => {
    const rotated = new PiiProtection(createPiiDetector(), newKey, [oldKey]);
    const sealed = sealVault(vaultOf('Oliver Twist'), randomBytes(32), 'req-4');
    expect(() => rotated.open(sealed, 'req-4')).toThrow(
      expect.objectContaining({
        code: 'pii_key_mismatch',
        message: expect.stringMatching(/LLMBUS_PII_KEY.*LLMBUS_PII_PREVIOUS_KEYS/),
      }),
    );
  });

  describe('attestations', () => {
    /** Tags `text` in the scope of `headers`: what was tagged afresh and the header attached. */
    async function stage(attestations: PiiAttestations, headers: Record<string, string>, text: string) {
      return attestations.consume(headers, async () => {
        const before = compromiseTagCalls();
        const spans = new CompromisePersonDetector().detect(text);
        return {
          spans,
          tagged: compromiseTagCalls() - before,
          published: attestations.publishHeaders()?.[PII_ATTESTATION_HEADER],
        };
      });
    }
    const onOldKey = new PiiAttestations(oldKey, COMPROMISE_DETECTOR);
    const rotated = new PiiAttestations(newKey, COMPROMISE_DETECTOR, {}, [oldKey]);

    it('accepts a header authenticated under a previous key: its lines are not tagged again', async () => {
      const header = (await stage(onOldKey, {}, ticket)).published!;
      expect(rotated.verify(header)).toMatchObject({ ok: true, previousKey: true });
      const result = await stage(rotated, { [PII_ATTESTATION_HEADER]: header }, ticket);
      expect(result.tagged).toBe(0);
      expect(result.spans.map((s) => s.text)).toEqual(['Oliver Twist', 'Maria Schmidt']);
    });

    it('attaches under the current key: a stage on the old key alone does not accept it', async () => {
      const header = (await stage(rotated, {}, ticket)).published!;
      expect(rotated.verify(header)).toMatchObject({ ok: true, previousKey: false });
      expect(new PiiAttestations(newKey, COMPROMISE_DETECTOR).verify(header).ok).toBe(true);
      expect(onOldKey.verify(header)).toEqual({ ok: false, refusal: 'unauthenticated' });
    });

    it('carries lines received under a previous key no further than the stage that used them', async () => {
      const header = (await stage(onOldKey, {}, ticket)).published!;
      const next = await stage(rotated, { [PII_ATTESTATION_HEADER]: header }, `${ticket}\nRegards, Anna`);
      const after = await stage(
        new PiiAttestations(newKey, COMPROMISE_DETECTOR),
        { [PII_ATTESTATION_HEADER]: next.published! },
        `${ticket}\nRegards, Anna`,
      );
      // Only the line the rotated stage tagged itself travels on, under the current key.
      expect(after.tagged).toBe(2);
    });

    it('ignores a header under a key neither current nor previous, and tags the text itself', async () => {
      const header = (await stage(new PiiAttestations(randomBytes(32), COMPROMISE_DETECTOR), {}, ticket))
        .published!;
      expect(rotated.verify(header)).toEqual({ ok: false, refusal: 'unauthenticated' });
      expect((await stage(rotated, { [PII_ATTESTATION_HEADER]: header }, ticket)).tagged).toBe(2);
    });
  });
});
