import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
  TOPICS,
  Topics,
} from '@llmbus/contracts';
import { EventBus, outgoing } from '@llmbus/bus';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import pino from 'pino';
import { ensureTopics } from '../support/kafka-topics';
import { kafkaBrokers, uniquePrefix } from '../support/env';
import { KAFKA_CLIENTS } from '../support/kafka-clients';

jest.setTimeout(120_000);
const logger = pino({ level: 'warn' });

async function until(check: () => boolean, ms = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function routedFrom(d: RequestSubmitted) {
  return outgoing(RequestRoutedEvent, {
    requestId: d.requestId,
    context: {
      workflow: { id: 'support-ticket', version: 1 },
      requester: d.requester,
      modelTier: 'small',
      budget: { maxOutputTokens: 10, maxCostUsd: 0 },
    },
    input: d.input,
    retrieval: { collections: [], topK: 0, query: '' },
  });
}

describe.each(KAFKA_CLIENTS)(
  'exactly-once delivery (LLMBUS_DELIVERY=exactly-once) on a real Kafka broker (%s)',
  (_client, kafkaTransport) => {
    const brokers = kafkaBrokers();
    let prefix: string;
    let bus: EventBus;
    const consumers: Consumer[] = [];

    /** Records the ce_id of every record on the routed topic, at the given isolation level. */
    async function rawReader(isolation: 'committed' | 'uncommitted', into: string[]) {
      const consumer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).consumer({
        groupId: `${prefix}raw-${isolation}`,
        readUncommitted: isolation === 'uncommitted',
      });
      consumers.push(consumer);
      await consumer.connect();
      await consumer.subscribe({ topic: prefix + Topics.Routed.name, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => void into.push(String(message.headers?.['ce_id'])),
      });
    }

    beforeEach(async () => {
      prefix = uniquePrefix('eos');
      await ensureTopics(
        brokers,
        TOPICS.map((t) => ({ ...t, name: prefix + t.name })),
      );
      bus = new EventBus(
        kafkaTransport({
          brokers,
          clientId: 'eos-test',
          logger,
          sessionTimeoutMs: 10_000,
          delivery: 'exactly-once',
        }),
        { logger, topicPrefix: prefix, retryDelayMs: 10 },
      );
    });

    afterEach(async () => {
      await Promise.all(consumers.splice(0).map((c) => c.disconnect()));
      await bus.close();
      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: TOPICS.map((t) => prefix + t.name) }).catch(() => undefined);
      await admin.disconnect();
    });

    it('commits outputs and offset together: a member killed after producing leaves nothing visible, and the takeover publishes once', async () => {
      const groupId = `${prefix}crash`;
      const committed: string[] = [];
      const uncommitted: string[] = [];
      await rawReader('committed', committed);
      await rawReader('uncommitted', uncommitted);

      await bus.publish([
        outgoing(
          RequestSubmittedEvent,
          {
            requestId: 'eos-1',
            eventType: 'ticket.created',
            input: { subject: 's' },
            requester: { groups: [] },
          },
          { tenantId: 'acme' },
        ),
      ]);
      const child = spawn(
        process.execPath,
        [
          join(__dirname, 'fixtures/crashing-consumer.js'),
          brokers.join(','),
          prefix,
          groupId,
          'exactly-once',
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let childOut = '';
      child.stdout.on('data', (d: Buffer) => (childOut += d.toString()));
      const exit = await new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, signal) => resolve(signal)),
      );
      expect(exit).toBe('SIGKILL');
      expect(childOut).toContain('outputs-produced');
      // The killed member's output reached the broker, inside a transaction that never committed.
      await until(() => uncommitted.length === 1, 30_000, 'uncommitted output on the broker');

      let reprocessed = 0;
      await bus.subscribe({
        stage: 'router',
        groupId,
        notifyRequester: true,
        handlers: {
          [RequestSubmittedEvent.type]: async (e) => {
            reprocessed++;
            return [routedFrom(e.data as RequestSubmitted)];
          },
        },
      });
      await until(() => committed.length === 1, 60_000, 'the takeover output visible to read_committed');
      expect(reprocessed).toBe(1);
      // A later committed record proves the read_committed reader is past the aborted one.
      const [marker] = await bus.publish(
        [routedFrom({ requestId: 'eos-1', eventType: 'x', input: {}, requester: { groups: [] } })].map(
          (o) => ({
            ...o,
            tenantId: 'acme',
          }),
        ),
      );
      await until(() => committed.includes(marker.id), 30_000, 'marker');
      expect(committed).toHaveLength(2);
      // read_uncommitted sees the aborted output too: the killed member's, the takeover's, the marker.
      await until(() => uncommitted.includes(marker.id), 30_000, 'marker read uncommitted');
      expect(uncommitted).toHaveLength(3);
      // The group's offset was committed by the takeover's transaction: nothing left to read.
      const lag = await bus.transport.lag(groupId, [prefix + Topics.Request.name]);
      expect(lag.reduce((n, p) => n + p.lag, 0)).toBe(0);
    });
  },
);
