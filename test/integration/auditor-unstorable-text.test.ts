import { randomUUID } from 'node:crypto';
import { PostgresAuditStore } from '@llmbus/audit';
import { EventBus, KafkaTransport } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import {
  attributesToHeaders,
  DeadLettered,
  DeadLetteredEvent,
  RequestContext,
  RequestSubmittedEvent,
  ResponseGenerated,
  ResponseGeneratedEvent,
  TOPICS,
  Topics,
  type EventDefinition,
} from '@llmbus/contracts';
import { startAuditor } from '@llmbus/svc-auditor';
import { Client } from 'pg';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import pino from 'pino';
import { ensureTopics } from '../support/kafka-topics';
import { databaseUrl, kafkaBrokers, uniquePrefix } from '../support/env';

// The fault: one event PostgreSQL refuses (U+0000, a lone surrogate, a number out of its
// column's range) was redelivered to the auditor forever and every later event on its partition
// lost its trail. The real auditor on a real broker and database must record both.
jest.setTimeout(120_000);
const logger = pino({ level: 'warn' });
const TENANT = 'acme';
const brokers = kafkaBrokers();

async function until(check: () => Promise<boolean>, what: string, ms = 45_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const context: RequestContext = {
  workflow: { id: 'support-ticket', version: 1 },
  requester: { groups: [] },
  modelTier: 'small',
  budget: { maxOutputTokens: 100, maxCostUsd: 1 },
};

function generated(requestId: string, promptTokens: number): ResponseGenerated {
  return {
    requestId,
    context,
    input: { subject: 's' },
    passages: [],
    attempt: 1,
    prompt: { id: 'support-ticket', version: 1 },
    renderedPrompt: '[]',
    text: '{}',
    usage: { modelId: 'm', provider: 'local', promptTokens, completionTokens: 3, costUsd: 0, latencyMs: 5 },
  };
}

describe('auditor on Kafka and PostgreSQL with events the database refuses as received', () => {
  const prefix = uniquePrefix('auditor-text');
  const schema = `audit_text_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let bus: EventBus;
  let store: PostgresAuditStore;
  let app: StageApp;
  let producer: Producer;

  /** Produces as an upstream system would, to partition 0, so the events share one partition. */
  async function produce(
    definition: EventDefinition,
    requestId: string,
    value: string,
    source = '/upstream',
    time = new Date().toISOString(),
  ) {
    const headers = attributesToHeaders({
      id: randomUUID(),
      source,
      type: definition.type,
      specversion: '1.0',
      time,
      correlationid: requestId,
      tenantid: TENANT,
      schemaversion: 1,
    });
    await producer.send({
      topic: prefix + definition.topic.name,
      messages: [{ partition: 0, key: requestId, headers, value }],
    });
  }

  beforeAll(async () => {
    await ensureTopics(
      brokers,
      TOPICS.map((t) => ({ ...t, name: prefix + t.name })),
    );
    store = await PostgresAuditStore.open({ connectionString: databaseUrl(), schema, maxConnections: 3 });
    bus = new EventBus(
      new KafkaTransport({ brokers, clientId: 'auditor-text-test', logger, sessionTimeoutMs: 10_000 }),
      { logger, topicPrefix: prefix, retryDelayMs: 10 },
    );
    // Only the HTTP surface reads the config; the bus and the store are the ones built above.
    const config = loadPlatformConfig(
      { API_KEYS: 'auditor-text-key-0001:acme:reader', HTTP_PORT: '0' },
      { mode: 'embedded', httpPort: 0, clientId: 'auditor-text-test' },
    );
    app = await startAuditor({ bus, config, logger, store });
    producer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
    await bus?.close();
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

  it('records a ticket holding U+0000 and a cut emoji (as its dead letter, naming the field) and the next request on the partition', async () => {
    // JSON.stringify writes these as \u0000 and \ud83d escapes, which jsonb refuses.
    const cut = `Printer ${'\u{1F600}'.repeat(4100)}`.slice(0, 8001);
    await produce(
      RequestSubmittedEvent,
      'text-a',
      JSON.stringify({
        requestId: 'text-a',
        eventType: 'ticket.created',
        input: { subject: 'printer\u0000on fire', body: cut },
        requester: { groups: [] },
      }),
    );
    await produce(
      RequestSubmittedEvent,
      'text-b',
      JSON.stringify({
        requestId: 'text-b',
        eventType: 'ticket.created',
        input: { subject: 'fine' },
        requester: { groups: [] },
      }),
    );
    await until(async () => (await store.trail(TENANT, 'text-b')).length === 1, "the later request's event");
    await until(
      async () => (await store.trail(TENANT, 'text-a')).length === 1,
      "the refused ticket's dead letter",
    );
    const [later] = await store.trail(TENANT, 'text-b');
    expect(later.envelope.type).toBe(RequestSubmittedEvent.type);
    const [dead] = await store.trail(TENANT, 'text-a');
    expect(dead.envelope.type).toBe(DeadLetteredEvent.type);
    expect(dead.position.topic).toBe(`${prefix}${'orchestration.dead-letter.auditor.v1'}`);
    const record = dead.envelope.data as unknown as DeadLettered;
    expect(record.reasonCode).toBe('invalid_payload');
    expect(record.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^input\.subject: contains U\+0000/),
        expect.stringMatching(/^input\.body: contains a lone high surrogate/),
      ]),
    );
    // Nothing is lost: the dead letter keeps the message exactly as received (escapes are plain text).
    expect(record.originalValue).toContain('printer\\u0000on fire');
    expect(record.originalSanitised).toBeUndefined();
  });

  it('records a valid event that overflows a column as a marked copy, then the next event on the partition', async () => {
    await produce(
      ResponseGeneratedEvent,
      'usage-a',
      JSON.stringify(generated('usage-a', 3_000_000_000)),
      '/llmbus/generator',
    );
    await produce(
      ResponseGeneratedEvent,
      'usage-b',
      JSON.stringify(generated('usage-b', 40)),
      '/llmbus/generator',
    );
    await until(async () => (await store.trail(TENANT, 'usage-b')).length === 1, "the later request's event");
    const [copy] = await store.trail(TENANT, 'usage-a');
    expect(copy.envelope.type).toBe(ResponseGeneratedEvent.type);
    expect(copy.position).toMatchObject({ topic: prefix + Topics.Generated.name, partition: 0 });
    expect(copy.sanitisedReason).toMatch(/^22003: /);
    expect((copy.envelope.data as unknown as ResponseGenerated).usage.promptTokens).toBe(3_000_000_000);
    const [later] = await store.trail(TENANT, 'usage-b');
    expect(later.sanitisedReason).toBeUndefined();
  });

  it('dead-letters an event not even a sanitised copy of which can be stored, and records the next one', async () => {
    // ISO 8601 allows year 0; PostgreSQL does not (22008), and no text replacement changes that.
    const body = (id: string) =>
      JSON.stringify({
        requestId: id,
        eventType: 'ticket.created',
        input: { subject: 's' },
        requester: { groups: [] },
      });
    await produce(RequestSubmittedEvent, 'year-a', body('year-a'), '/upstream', '0000-01-01T00:00:00Z');
    await produce(RequestSubmittedEvent, 'year-b', body('year-b'));
    await until(async () => (await store.trail(TENANT, 'year-b')).length === 1, "the later request's event");
    await until(
      async () => (await store.trail(TENANT, 'year-a')).length === 1,
      "the refused event's dead letter",
    );
    const [dead] = await store.trail(TENANT, 'year-a');
    expect(dead.envelope.type).toBe(DeadLetteredEvent.type);
    const record = dead.envelope.data as unknown as DeadLettered;
    expect(record.reasonCode).toBe('invalid_payload');
    expect(record.reason).toMatch(/cannot hold event .* even with its text sanitised: 22008: /);
  });
});
