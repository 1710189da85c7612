import { randomBytes, randomUUID } from 'node:crypto';
import { PostgresAuditStore } from '@llmbus/audit';
import { EventBus, InMemoryTransport, KafkaTransport } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import { attributesToHeaders, RequestSubmittedEvent, TOPICS } from '@llmbus/contracts';
import { startAuditor } from '@llmbus/svc-auditor';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import pino from 'pino';
import { ensureTopics } from '../support/kafka-topics';
import { databaseUrl, kafkaBrokers, uniquePrefix } from '../support/env';

// Rotating LLMBUS_PII_KEY: a trail the real auditor sealed under key A (consumed from Kafka, stored in
// PostgreSQL) answers a pii-reader its raw values from an auditor with LLMBUS_PII_KEY=B and
// LLMBUS_PII_PREVIOUS_KEYS=A, and 500 pii_key_mismatch from one with B alone (as every rotation did).
jest.setTimeout(120_000);
const logger = pino({ level: 'warn' });
const TENANT = 'acme';
const READER_KEY = 'rotation-reader-0001';
const brokers = kafkaBrokers();
const NAME = 'Oliver Twist';

async function until(check: () => Promise<boolean>, what: string, ms = 45_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The config of an auditor with these PII keys (HTTP on a free port, one pii-reader key); only its HTTP surface and keys are read: the bus and store are the test's. */
function configWith(pii: Record<string, string>) {
  return loadPlatformConfig(
    { API_KEYS: `${READER_KEY}:${TENANT}:reader+pii-reader`, HTTP_PORT: '0', ...pii },
    { mode: 'embedded', httpPort: 0, clientId: 'pii-rotation-test' },
  );
}

describe('rotating LLMBUS_PII_KEY keeps the trail sealed under the old key readable', () => {
  const prefix = uniquePrefix('pii-rotation');
  const schema = `pii_rotation_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const [keyA, keyB] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
  const requestId = `rot-${randomUUID()}`;
  let store: PostgresAuditStore;

  beforeAll(async () => {
    await ensureTopics(
      brokers,
      TOPICS.map((t) => ({ ...t, name: prefix + t.name })),
    );
    store = await PostgresAuditStore.open({ connectionString: databaseUrl(), schema, maxConnections: 3 });
  });

  afterAll(async () => {
    await store?.close();
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: TOPICS.map((t) => prefix + t.name) }).catch(() => undefined);
    await admin.disconnect();
    const pg = new Client({ connectionString: databaseUrl() });
    await pg.connect();
    await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pg.end();
  });

  /** An auditor reading the same PostgreSQL trail (no events to consume: an in-process bus). */
  async function readerWith<T>(pii: Record<string, string>, read: (app: StageApp) => Promise<T>): Promise<T> {
    const bus = new EventBus(new InMemoryTransport(), { logger });
    const app = await startAuditor({ bus, config: configWith(pii), logger, store });
    try {
      return await read(app);
    } finally {
      await app.close();
      await bus.close();
    }
  }

  async function trail(app: StageApp): Promise<{ status: number; body: string }> {
    const response = await fetch(`${app.url}/v1/requests/${requestId}/trail`, {
      headers: { 'x-api-key': READER_KEY },
    });
    return { status: response.status, body: await response.text() };
  }

  it('writes under A, reads with current B and previous A, and 500 pii_key_mismatch with B alone', async () => {
    // 1. The auditor on key A records a submitted request from Kafka, its name sealed under A.
    const bus = new EventBus(
      new KafkaTransport({ brokers, clientId: 'pii-rotation-test', logger, sessionTimeoutMs: 10_000 }),
      { logger, topicPrefix: prefix, retryDelayMs: 10 },
    );
    const writer = await startAuditor({ bus, config: configWith({ LLMBUS_PII_KEY: keyA }), logger, store });
    const producer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer();
    try {
      await producer.connect();
      await producer.send({
        topic: prefix + RequestSubmittedEvent.topic.name,
        messages: [
          {
            key: requestId,
            headers: attributesToHeaders({
              id: randomUUID(),
              source: '/upstream',
              type: RequestSubmittedEvent.type,
              specversion: '1.0',
              time: new Date().toISOString(),
              correlationid: requestId,
              tenantid: TENANT,
              schemaversion: 1,
            }),
            value: JSON.stringify({
              requestId,
              eventType: 'ticket.created',
              input: { subject: 'cannot log in', body: `Hello, this is ${NAME} from the Leeds office.` },
              requester: { groups: [] },
            }),
          },
        ],
      });
      await until(async () => (await store.trail(TENANT, requestId)).length === 1, 'the recorded request');
      // Stored masked, the raw value sealed.
      expect(JSON.stringify((await store.trail(TENANT, requestId))[0].envelope)).not.toContain(NAME);
      expect((await trail(writer)).body).toContain(NAME);
    } finally {
      await producer.disconnect();
      await writer.close();
      await bus.close();
    }

    // 2. Rotated: B seals, A (listed as previous) still opens the earlier trail.
    const rotated = await readerWith({ LLMBUS_PII_KEY: keyB, LLMBUS_PII_PREVIOUS_KEYS: keyA }, trail);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toContain(NAME);

    // 3. Without A: the earlier trail cannot be opened, and the answer says what to set.
    const withoutA = await readerWith({ LLMBUS_PII_KEY: keyB }, trail);
    expect(withoutA.status).toBe(500);
    expect(JSON.parse(withoutA.body)).toMatchObject({
      error: 'pii_key_mismatch',
      message: expect.stringContaining('LLMBUS_PII_PREVIOUS_KEYS'),
    });
  });
});
