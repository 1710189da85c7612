import { ApiKeyRegistry } from '@llmbus/access';
import { PgliteAuditStore } from '@llmbus/audit';
import { EventBus, InMemoryTransport } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import {
  attributesToHeaders,
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  findUnstorableText,
  RequestFailed,
  RequestFailedEvent,
  RequestRouted,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  Topics,
} from '@llmbus/contracts';
import pino from 'pino';
import request from 'supertest';
import { startRouter } from './index';
import { ScriptedModelProvider } from '@llmbus/models';

/** Bag-of-words vectors for the shipped workflows' classifier steps (support-ticket v2). */
const classifierModels = {
  embed: async (texts: readonly string[]) => (await new ScriptedModelProvider().embed(texts)).vectors,
};

// Text PostgreSQL cannot store (U+0000, lone surrogates) is refused where it enters the router.
const logger = pino({ level: 'silent' });
const SUBMITTER = 'acme-submitter-key-0001';
const apiKeys = ApiKeyRegistry.parse(`${SUBMITTER}:acme:submitter+reader`);
const config = loadPlatformConfig(
  { LLMBUS_MODE: 'embedded' },
  { mode: 'embedded', httpPort: 0, clientId: 'test' },
);
const EMOJI = '\u{1F600}';

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('router: text that cannot be stored', () => {
  let store: PgliteAuditStore;
  let transport: InMemoryTransport;
  let bus: EventBus;
  let app: StageApp;
  let http: ReturnType<typeof request>;
  const seen: Record<string, EventEnvelope<object>[]> = {};

  beforeAll(async () => {
    store = await PgliteAuditStore.open();
  });
  afterAll(() => store.close());

  beforeEach(async () => {
    transport = new InMemoryTransport();
    bus = new EventBus(transport, { logger, retryDelayMs: 1 });
    // Raw observer: sees what was published even when a consumer's edge would refuse it.
    for (const type of [
      RequestSubmittedEvent.type,
      RequestRoutedEvent.type,
      RequestFailedEvent.type,
      DeadLetteredEvent.type,
    ]) {
      seen[type] = [];
    }
    await transport.consume({
      groupId: 'raw-observer',
      topics: [
        Topics.Request.name,
        Topics.Routed.name,
        Topics.Result.name,
        'orchestration.dead-letter.router.v1',
      ],
      handle: async (message) => {
        const type = message.headers['ce_type'];
        if (type && seen[type]) {
          seen[type].push({
            type,
            data: JSON.parse(message.value!.toString('utf8')),
          } as EventEnvelope<object>);
        }
      },
    });
    app = await startRouter({
      bus,
      config,
      logger,
      apiKeys,
      httpPort: 0,
      classifierModels,
      statusStore: store,
    });
    http = request(app.url!);
  });

  afterEach(async () => {
    await app.close();
    await bus.close();
  });

  const post = (input: Record<string, unknown>) =>
    http.post('/v1/requests').set('X-Api-Key', SUBMITTER).send({ eventType: 'ticket.created', input });

  it('answers 400 invalid_request naming the field that holds U+0000, and publishes nothing', async () => {
    const res = await post({ subject: 'printer\u0000on fire', body: 'help' }).expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'invalid_request' });
    expect(res.body.message).toMatch(/input\.subject: contains U\+0000 \(NUL\) at UTF-16 index 7/);
    expect(res.body.details).toEqual([expect.stringMatching(/^input\.subject: contains U\+0000/)]);
    expect(seen[RequestSubmittedEvent.type]).toHaveLength(0);
  });

  it('answers 400 for text cut in the middle of an emoji (a lone surrogate), naming the field', async () => {
    const body = `Printer on fire ${EMOJI.repeat(4100)}`.slice(0, 8001);
    const res = await post({ subject: 'printer', body }).expect(400);
    expect(res.body.details).toEqual([
      expect.stringMatching(/^input\.body: contains a lone high surrogate .* at UTF-16 index 8000/),
    ]);
  });

  it('answers 400 for an object key holding U+0000, naming the key', async () => {
    const res = await post({ subject: 's', body: 'b', ['x\u0000']: 'y' }).expect(400);
    expect(res.body.details).toEqual([
      expect.stringMatching(/^input\["x\\u0000"\]: the key contains U\+0000/),
    ]);
  });

  it('accepts 4,100 emoji whole, and cuts the routed query on a code-point boundary', async () => {
    // Two parities of the text before the emoji, so one of them puts the 8,000-unit cut inside a pair.
    for (const subject of ['printer', 'printers']) {
      await post({ subject, body: EMOJI.repeat(4100) }).expect(202);
    }
    await until(() => seen[RequestRoutedEvent.type].length === 2);
    for (const routed of seen[RequestRoutedEvent.type] as EventEnvelope<RequestRouted>[]) {
      expect(routed.data.retrieval.query.length).toBeGreaterThanOrEqual(7999);
      expect(findUnstorableText(routed.data)).toEqual([]);
    }
  });

  it('fails a Kafka-submitted request holding U+0000 as invalid_payload naming the field, and dead-letters it', async () => {
    const headers = attributesToHeaders({
      id: 'raw-nul-1',
      source: '/upstream',
      type: RequestSubmittedEvent.type,
      specversion: '1.0',
      time: new Date().toISOString(),
      correlationid: 'nul-1',
      tenantid: 'acme',
      schemaversion: 1,
    });
    const value = JSON.stringify({
      requestId: 'nul-1',
      eventType: 'ticket.created',
      input: { subject: 'a\u0000b', body: 'b' },
      requester: { groups: [] },
    });
    await transport.produceRaw(Topics.Request.name, 'nul-1', headers, Buffer.from(value));
    await until(
      () => seen[RequestFailedEvent.type].length === 1 && seen[DeadLetteredEvent.type].length === 1,
    );
    const failed = seen[RequestFailedEvent.type][0].data as RequestFailed;
    expect(failed).toMatchObject({ requestId: 'nul-1', code: 'invalid_payload', stage: 'router' });
    expect(failed.message).toMatch(/input\.subject: contains U\+0000/);
    const dead = seen[DeadLetteredEvent.type][0].data as DeadLettered;
    expect(dead).toMatchObject({ reasonCode: 'invalid_payload', originalValue: value });
    expect(dead.originalSanitised).toBeUndefined();
    expect(seen[RequestRoutedEvent.type]).toHaveLength(0);
  });

  it('answers 404 for a status id holding U+0000: an id no store holds is unknown, not a store outage', async () => {
    const res = await http.get('/v1/requests/r%00').set('X-Api-Key', SUBMITTER).expect(404);
    expect(res.headers['retry-after']).toBeUndefined();
  });
});
