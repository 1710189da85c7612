// A replica works on several partitions and keys at once, bounded by its concurrency limit, and
// still handles the events of one key one at a time and in order (real broker).
import { RequestSubmitted, RequestSubmittedEvent, TOPICS } from '@llmbus/contracts';
import { EventBus, outgoing } from '@llmbus/bus';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { ensureTopics } from '../support/kafka-topics';
import { kafkaBrokers, uniquePrefix } from '../support/env';
import { KAFKA_CLIENTS } from '../support/kafka-clients';

jest.setTimeout(120_000);
const logger = pino({ level: 'warn' });

function submitted(requestId: string, subject: string): RequestSubmitted {
  return { requestId, eventType: 'ticket.created', input: { subject }, requester: { groups: [] } };
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(KAFKA_CLIENTS)(
  'consumer concurrency on a real Kafka broker (%s)',
  (_client, kafkaTransport) => {
    const brokers = kafkaBrokers();
    let prefix: string;
    let bus: EventBus | undefined;

    beforeEach(async () => {
      prefix = uniquePrefix('conc');
      await ensureTopics(
        brokers,
        TOPICS.map((t) => ({ ...t, name: prefix + t.name })),
      );
    });

    afterEach(async () => {
      await bus?.close();
      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: TOPICS.map((t) => prefix + t.name) }).catch(() => undefined);
      await admin.disconnect();
    });

    function busWith(concurrency: number): EventBus {
      bus = new EventBus(
        kafkaTransport({ brokers, clientId: 'conc-test', logger, sessionTimeoutMs: 10_000, concurrency }),
        { logger, topicPrefix: prefix, retryDelayMs: 10 },
      );
      return bus;
    }

    it('works on as many events at once as its limit allows, more than it owns partitions, and no more', async () => {
      const limit = 8;
      let inFlight = 0;
      let maxInFlight = 0;
      let handled = 0;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      await busWith(limit).subscribe({
        stage: 'router',
        groupId: `${prefix}wide`,
        notifyRequester: true,
        handlers: {
          [RequestSubmittedEvent.type]: async () => {
            inFlight += 1;
            maxInFlight = Math.max(maxInFlight, inFlight);
            await released;
            inFlight -= 1;
            handled += 1;
            return [];
          },
        },
      });
      // 16 requests (keys) over the topic's 12 partitions: several keys share a partition.
      await bus!.publish(
        Array.from({ length: 16 }, (_, i) =>
          outgoing(RequestSubmittedEvent, submitted(`req-${i}`, 's'), { tenantId: 'acme' }),
        ),
      );
      await until(() => inFlight === limit, 60_000, `${limit} events in flight at once`);
      release();
      await until(() => handled === 16, 60_000, 'all 16 events handled');
      expect(maxInFlight).toBe(limit);
    });

    it('handles the events of one key one at a time and in order while other keys run beside them', async () => {
      const order = new Map<string, string[]>();
      const running = new Set<string>();
      let overlapping = 0;
      let othersBeside = 0;
      await busWith(8).subscribe({
        stage: 'router',
        groupId: `${prefix}keys`,
        notifyRequester: true,
        handlers: {
          [RequestSubmittedEvent.type]: async (e) => {
            const d = e.data as RequestSubmitted;
            if (running.has(d.requestId)) overlapping += 1;
            if (running.size > 0) othersBeside += 1;
            running.add(d.requestId);
            // Yield a few times so that other keys' events can start meanwhile.
            for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 5));
            running.delete(d.requestId);
            order.set(d.requestId, [...(order.get(d.requestId) ?? []), String(d.input['subject'])]);
            return [];
          },
        },
      });
      const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
      const events = [];
      for (let i = 0; i < 10; i++) {
        for (const key of keys)
          events.push(outgoing(RequestSubmittedEvent, submitted(key, String(i)), { tenantId: 'acme' }));
      }
      await bus!.publish(events);
      await until(
        () => [...order.values()].reduce((n, l) => n + l.length, 0) === 80,
        60_000,
        '80 events handled',
      );
      for (const key of keys) expect(order.get(key)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
      expect(overlapping).toBe(0);
      expect(othersBeside).toBeGreaterThan(0);
    });
  },
);
