import { randomBytes } from 'node:crypto';
import { PgliteAuditStore } from '@llmbus/audit';
import { createPiiDetector, PiiProtection, StoredPayloadMasking, resolvePiiPolicy } from '@llmbus/pii';
import { trailKeyProblem } from './trail-key-check';

/** A trail recorded under `key` (masked, raw values sealed), as the auditor stores it. */
async function trailSealedUnder(store: PgliteAuditStore, key: Buffer, ids: string[]): Promise<void> {
  const masking = new StoredPayloadMasking(new PiiProtection(createPiiDetector(), key));
  for (const [offset, id] of ids.entries()) {
    const data = masking.forStorage(
      { requestId: id, input: { body: 'Hi, this is Oliver Twist from the Leeds office.' } },
      resolvePiiPolicy().audit,
      `acme//llmbus/ingress/${id}`,
    );
    await store.record(
      {
        id,
        source: '/llmbus/ingress',
        type: 'llmbus.request.submitted',
        specversion: '1.0',
        time: new Date().toISOString(),
        correlationid: id,
        tenantid: 'acme',
        schemaversion: 1,
        data,
      },
      { topic: 'orchestration.request.v1', partition: 0, offset: String(offset) },
    );
  }
}

// Each test opens its own PGlite store: 12-23 s apiece on the shared 2-core box under load (30 s is jest's limit here).
jest.setTimeout(120_000);

describe('the embedded trail and the key a start runs with', () => {
  it('says nothing when the trail opens with the key, or holds nothing sealed', async () => {
    const store = await PgliteAuditStore.open();
    try {
      const key = randomBytes(32);
      expect(trailKeyProblem(await store.sealedRecordSamples(), key)).toBeUndefined();
      await trailSealedUnder(store, key, ['r-1', 'r-2']);
      expect(await store.sealedRecordSamples()).toHaveLength(2);
      expect(trailKeyProblem(await store.sealedRecordSamples(), key)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('tells when the trail was sealed under another key (LLMBUS_PII_KEY unset or changed), saying what to do', async () => {
    const store = await PgliteAuditStore.open();
    try {
      const before = randomBytes(32);
      await trailSealedUnder(store, before, ['r-1']);
      await trailSealedUnder(store, randomBytes(32), ['r-2']);
      const problem = trailKeyProblem(await store.sealedRecordSamples(), before);
      expect(problem).toMatch(
        /sealed under another PII key.*set LLMBUS_PII_KEY to it, or restore LLMBUS_DATA_DIR\/pii\.key/,
      );
    } finally {
      await store.close();
    }
  });

  it('says nothing when the trail opens under a key listed as previous (a rotation)', async () => {
    const store = await PgliteAuditStore.open();
    try {
      const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
      await trailSealedUnder(store, oldKey, ['r-1']);
      await trailSealedUnder(store, newKey, ['r-2']);
      expect(trailKeyProblem(await store.sealedRecordSamples(), [newKey, oldKey])).toBeUndefined();
      expect(trailKeyProblem(await store.sealedRecordSamples(), [newKey])).toMatch(/after a rotation/);
    } finally {
      await store.close();
    }
  });
});
