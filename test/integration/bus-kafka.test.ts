import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  RequestFailed,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
  TOPICS,
  Topics,
} from '@llmbus/contracts';
import { EventBus, outgoing, replayDeadLetters } from '@llmbus/bus';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { ensureTopics } from '../support/kafka-topics';
import { kafkaBrokers, uniquePrefix } from '../support/env';
import { KAFKA_CLIENTS } from '../support/kafka-clients';

jest.setTimeout(120_000);
const logger = pino({ level: 'warn' });

function submitted(requestId: string, subject = 's'): RequestSubmitted {
  return { requestId, eventType: 'ticket.created', input: { subject }, requester: { groups: [] } };
}

async function until(check: () => boolean, ms = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(KAFKA_CLIENTS)('EventBus on a real Kafka broker (%s)', (_client, kafkaTransport) => {
  let prefix: string;
  let bus: EventBus;
  const brokers = kafkaBrokers();

  beforeEach(async () => {
    prefix = uniquePrefix('bus');
    await ensureTopics(
      brokers,
      TOPICS.map((t) => ({ ...t, name: prefix + t.name })),
    );
    bus = new EventBus(kafkaTransport({ brokers, clientId: 'bus-test', logger, sessionTimeoutMs: 10_000 }), {
      logger,
      topicPrefix: prefix,
      retryDelayMs: 10,
    });
  });

  afterEach(async () => {
    await bus.close();
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: TOPICS.map((t) => prefix + t.name) }).catch(() => undefined);
    await admin.disconnect();
  });

  it('keeps per-key order across partitions', async () => {
    const seen = new Map<string, string[]>();
    await bus.subscribe({
      stage: 'router',
      groupId: `${prefix}order`,
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => {
          const d = e.data as RequestSubmitted;
          seen.set(d.requestId, [...(seen.get(d.requestId) ?? []), String(d.input['subject'])]);
          return [];
        },
      },
    });
    const events = [];
    for (let i = 0; i < 20; i++) {
      for (const key of ['a', 'b', 'c', 'd']) {
        events.push(outgoing(RequestSubmittedEvent, submitted(key, String(i)), { tenantId: 'acme' }));
      }
    }
    await bus.publish(events);
    await until(() => [...seen.values()].reduce((n, l) => n + l.length, 0) === 80);
    for (const key of ['a', 'b', 'c', 'd']) {
      expect(seen.get(key)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    }
    // Lag is what the group has not committed: everything for a group that never read, 0 here.
    const transport = bus.transport;
    const total = async (groupId: string) =>
      (await transport.lag(groupId, [prefix + Topics.Request.name])).reduce((n, p) => n + p.lag, 0);
    expect(await total(`${prefix}never-read`)).toBe(80);
    const deadline = Date.now() + 30_000;
    while ((await total(`${prefix}order`)) !== 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await total(`${prefix}order`)).toBe(0);
  });

  it('handles an event id once even when it is delivered twice', async () => {
    const handled: string[] = [];
    await bus.subscribe({
      stage: 'router',
      groupId: `${prefix}dedup`,
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async (e) => (handled.push(e.id), []) },
    });
    // Same key throughout: one partition, so the third event is read after the duplicate.
    const [first] = await bus.publish([
      outgoing(RequestSubmittedEvent, submitted('r1'), { tenantId: 'acme' }),
    ]);
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r1'), { tenantId: 'acme', id: first.id })]);
    const [third] = await bus.publish([
      outgoing(RequestSubmittedEvent, submitted('r1', 'later'), { tenantId: 'acme' }),
    ]);
    await until(() => handled.includes(third.id));
    expect(handled).toEqual([first.id, third.id]);
  });

  it('dead-letters a message that is not JSON and tells the requester', async () => {
    const dead: EventEnvelope<object>[] = [];
    const failed: EventEnvelope<object>[] = [];
    await bus.subscribe({
      stage: 'auditor',
      groupId: `${prefix}observer`,
      notifyRequester: false,
      handlers: {
        [DeadLetteredEvent.type]: async (e) => (dead.push(e), []),
        [RequestFailedEvent.type]: async (e) => (failed.push(e), []),
      },
    });
    await bus.subscribe({
      stage: 'router',
      groupId: `${prefix}router`,
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => [] },
    });
    const producer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({
      topic: prefix + Topics.Request.name,
      messages: [
        {
          key: 'broken-1',
          value: '{"requestId": "broken-1",',
          headers: {
            ce_id: 'raw-1',
            ce_source: '/upstream',
            ce_type: RequestSubmittedEvent.type,
            ce_specversion: '1.0',
            ce_time: new Date().toISOString(),
            ce_correlationid: 'broken-1',
            ce_tenantid: 'acme',
            ce_schemaversion: '1',
          },
        },
      ],
    });
    await producer.disconnect();
    await until(() => dead.length === 1 && failed.length === 1);
    expect(dead[0].data as DeadLettered).toMatchObject({ reasonCode: 'invalid_event', stage: 'router' });
    expect(failed[0].data as RequestFailed).toMatchObject({ requestId: 'broken-1', code: 'invalid_event' });
    expect(failed[0].tenantid).toBe('acme');
  });

  it('reprocesses an event whose consumer died after producing and before committing, and downstream drops the duplicate', async () => {
    const groupId = `${prefix}crash`;
    const routedIds: string[] = [];
    const downstreamIds: string[] = [];
    // Observes the routed topic twice: raw ids (to see the duplicate) and through the bus (de-duplicated).
    await bus.subscribe({
      stage: 'retriever',
      groupId: `${prefix}downstream`,
      notifyRequester: true,
      handlers: { [RequestRoutedEvent.type]: async (e) => (downstreamIds.push(e.id), []) },
    });
    const rawConsumer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).consumer({
      groupId: `${prefix}raw`,
    });
    await rawConsumer.connect();
    await rawConsumer.subscribe({ topic: prefix + Topics.Routed.name, fromBeginning: true });
    await rawConsumer.run({
      eachMessage: async ({ message }) => void routedIds.push(String(message.headers?.['ce_id'])),
    });

    await bus.publish([outgoing(RequestSubmittedEvent, submitted('crash-1'), { tenantId: 'acme' })]);
    const child = spawn(
      process.execPath,
      [join(__dirname, 'fixtures/crashing-consumer.js'), brokers.join(','), prefix, groupId],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let childOut = '';
    child.stdout.on('data', (d: Buffer) => (childOut += d.toString()));
    const exit = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    expect(exit).toBe('SIGKILL');
    expect(childOut).toContain('outputs-produced');
    await until(() => routedIds.length === 1, 30_000, 'first output visible');

    // A healthy member of the same group takes over: the input was never committed, so it comes again.
    let reprocessed = 0;
    await bus.subscribe({
      stage: 'router',
      groupId,
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => {
          reprocessed++;
          const d = e.data as RequestSubmitted;
          return [
            outgoing(RequestRoutedEvent, {
              requestId: d.requestId,
              context: {
                workflow: { id: 'support-ticket', version: 1 },
                requester: d.requester,
                modelTier: 'small',
                budget: { maxOutputTokens: 10, maxCostUsd: 0 },
              },
              input: d.input,
              retrieval: { collections: [], topK: 0, query: '' },
            }),
          ];
        },
      },
    });
    await until(() => routedIds.length === 2, 60_000, 'reprocessed output visible');
    await rawConsumer.disconnect();
    expect(reprocessed).toBe(1);
    expect(routedIds[1]).toBe(routedIds[0]);
    // A later event on the same key proves the downstream consumer has read past the duplicate.
    const [marker] = await bus.publish([
      outgoing(
        RequestRoutedEvent,
        {
          requestId: 'crash-1',
          context: {
            workflow: { id: 'support-ticket', version: 1 },
            requester: { groups: [] },
            modelTier: 'small',
            budget: { maxOutputTokens: 10, maxCostUsd: 0 },
          },
          input: {},
          retrieval: { collections: [], topK: 0, query: 'marker' },
        },
        { tenantId: 'acme' },
      ),
    ]);
    await until(() => downstreamIds.includes(marker.id));
    expect(downstreamIds).toEqual([routedIds[0], marker.id]);
  });

  it('replays a dead-lettered event from the broker once its cause is fixed', async () => {
    let broken = true;
    const handled: string[] = [];
    await bus.subscribe({
      stage: 'router',
      groupId: `${prefix}replay-router`,
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => {
          if (broken) throw new Error('model endpoint down');
          handled.push((e.data as RequestSubmitted).requestId);
          return [];
        },
      },
    });
    const failed: EventEnvelope<object>[] = [];
    await bus.subscribe({
      stage: 'auditor',
      groupId: `${prefix}replay-observer`,
      notifyRequester: false,
      handlers: { [RequestFailedEvent.type]: async (e) => (failed.push(e), []) },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('replay-1'), { tenantId: 'acme' })]);
    await until(() => failed.length === 1);
    broken = false;
    expect(await replayDeadLetters(bus, 'router', { correlationId: 'replay-1' })).toMatchObject({
      replayed: 1,
    });
    await until(() => handled.includes('replay-1'));
  });
});
