import { PgliteAuditStore } from '@llmbus/audit';
import { RequestCompletedEvent, type EventEnvelope } from '@llmbus/contracts';
import {
  createPiiDetector,
  PiiProtection,
  resolvePiiPolicy,
  storedEventContext,
  StoredPayloadMasking,
} from '@llmbus/pii';
import { randomBytes } from 'node:crypto';
import { withRestoredPii } from './status-pii';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

describe('withRestoredPii', () => {
  const key = randomBytes(32);
  let store: PgliteAuditStore;
  const output = { reply: 'Dear Maria Schneider, we refunded you.', citations: [] };

  beforeAll(async () => {
    store = await PgliteAuditStore.open();
    // The outcome as the auditor stores it: masked, its mapping sealed to the event.
    const masking = new StoredPayloadMasking(new PiiProtection(createPiiDetector(), key));
    const envelope: EventEnvelope<Record<string, unknown>> = {
      id: 'e-1',
      source: '/llmbus/validator',
      type: RequestCompletedEvent.type,
      specversion: '1.0',
      time: new Date().toISOString(),
      correlationid: 'r-1',
      tenantid: 'acme',
      schemaversion: 1,
      data: {},
    };
    const data = masking.forStorage(
      {
        requestId: 'r-1',
        workflow: { id: 'w', version: 1 },
        output,
        citations: [],
        attempts: 1,
        acceptedBy: 'validator',
      },
      resolvePiiPolicy().audit,
      storedEventContext('acme', envelope.source, envelope.id),
    );
    await store.record({ ...envelope, data }, { topic: 't', partition: 0, offset: '1' });
  }, 60_000);

  afterAll(() => store?.close());

  it('serves the output as published: restored from the sealed mapping, the mapping never shown', async () => {
    expect((await store.requestStatus('acme', 'r-1'))?.output).toEqual({
      reply: 'Dear <PERSON_1>, we refunded you.',
      citations: [],
    });
    const view = await withRestoredPii(store, key).requestStatus('acme', 'r-1');
    expect(view).toMatchObject({ status: 'completed', output });
    expect(view).not.toHaveProperty('sealedOutcome');
  });

  it('serves the masked output without the key (or with another one) rather than failing', async () => {
    for (const other of [undefined, randomBytes(32)]) {
      const view = await withRestoredPii(store, other).requestStatus('acme', 'r-1');
      expect(view?.output).toEqual({ reply: 'Dear <PERSON_1>, we refunded you.', citations: [] });
      expect(view).not.toHaveProperty('sealedOutcome');
    }
  });

  it('restores an outcome sealed under a key listed as previous (after a rotation)', async () => {
    const view = await withRestoredPii(store, randomBytes(32), [randomBytes(32), key]).requestStatus(
      'acme',
      'r-1',
    );
    expect(view).toMatchObject({ status: 'completed', output });
  });
});
