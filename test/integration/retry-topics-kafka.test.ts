import {
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  RequestFailed,
  RequestFailedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
  isRetryTopic,
  TOPICS,
} from '@llmbus/contracts';
import { EventBus, outgoing } from '@llmbus/bus';
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

/** A transient fault as a model adapter raises it. */
class Unavailable extends Error {
  readonly retryable = true;
}

describe.each(KAFKA_CLIENTS)(
  'delayed retry topics on a real Kafka broker (%s)',
  (_client, kafkaTransport) => {
    let prefix: string;
    let bus: EventBus;
    const brokers = kafkaBrokers();

    beforeEach(async () => {
      prefix = uniquePrefix('retry');
      // Retry topics of one partition: records of different keys share it, as they do on any
      // partition count once there are more retries in flight than partitions.
      await ensureTopics(
        brokers,
        TOPICS.map((t) => ({
          ...t,
          name: prefix + t.name,
          partitions: isRetryTopic(t.name) ? 1 : t.partitions,
        })),
      );
      bus = new EventBus(
        kafkaTransport({ brokers, clientId: 'retry-test', logger, sessionTimeoutMs: 10_000 }),
        { logger, topicPrefix: prefix, retryDelayMs: 10, maxAttempts: 2, retryTopicDelaysMs: [1500, 3000] },
      );
    });

    afterEach(async () => {
      await bus.close();
      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: TOPICS.map((t) => prefix + t.name) }).catch(() => undefined);
      await admin.disconnect();
    });

    it('lets later events of the partition pass a failing one, handles it after its delay, and dead-letters it after the last round', async () => {
      const handledAt = new Map<string, number>();
      const attempts = new Map<string, number[]>();
      const failed: EventEnvelope<object>[] = [];
      const dead: EventEnvelope<object>[] = [];
      await bus.subscribe({
        stage: 'auditor',
        groupId: `${prefix}outcomes`,
        notifyRequester: false,
        handlers: {
          [RequestFailedEvent.type]: async (e) => (failed.push(e), []),
          [DeadLetteredEvent.type]: async (e) => (dead.push(e), []),
        },
      });
      await bus.subscribe({
        stage: 'router',
        notifyRequester: true,
        handlers: {
          [RequestSubmittedEvent.type]: async (e) => {
            const subject = String((e.data as RequestSubmitted).input['subject']);
            attempts.set(subject, [...(attempts.get(subject) ?? []), Date.now()]);
            // "flaky" fails its first pass (2 attempts) and succeeds in round 1; "broken" never does.
            if (subject === 'flaky' && attempts.get(subject)!.length <= 2) throw new Unavailable('503');
            if (subject === 'broken') throw new Unavailable('503 again');
            handledAt.set(subject, Date.now());
            return [];
          },
        },
      });
      // One key, so one partition, in this order: without retry topics "after" waits behind both.
      const started = Date.now();
      await bus.publish([outgoing(RequestSubmittedEvent, submitted('r1', 'flaky'), { tenantId: 'acme' })]);
      await bus.publish([outgoing(RequestSubmittedEvent, submitted('r1', 'broken'), { tenantId: 'acme' })]);
      await bus.publish([outgoing(RequestSubmittedEvent, submitted('r1', 'after'), { tenantId: 'acme' })]);

      await until(() => handledAt.has('after'), 30_000, '"after" handled');
      await until(() => handledAt.has('flaky'), 30_000, '"flaky" handled on retry');
      expect(handledAt.get('after')!).toBeLessThan(handledAt.get('flaky')!);
      // Round 1 waited its delay (1.5 s) after the first pass failed.
      const flaky = attempts.get('flaky')!;
      expect(flaky).toHaveLength(3);
      expect(flaky[2] - flaky[1]).toBeGreaterThanOrEqual(1400);

      await until(() => failed.length === 1 && dead.length === 1, 40_000, 'broken dead-lettered');
      // First pass, round 1 and round 2: two in-process attempts each.
      expect(attempts.get('broken')).toHaveLength(6);
      expect(failed[0].data as RequestFailed).toMatchObject({ requestId: 'r1', code: 'processing_error' });
      expect((failed[0].data as RequestFailed).message).toContain('2 delayed retry round(s)');
      expect((dead[0].data as DeadLettered).originalTopic).toBe(`${prefix}orchestration.request.v1`);
      console.log(
        `retry topics on Kafka: "after" handled ${handledAt.get('after')! - started} ms after submit, ` +
          `"flaky" ${handledAt.get('flaky')! - started} ms, "broken" dead-lettered after 2 rounds`,
      );
    });

    it('handles every record of a retry partition when several of different keys are not due yet at once', async () => {
      // Records of different keys in one partition are worked on at once; each one not yet due
      // seeks the partition back to itself. The partition must be read again from the lowest of
      // them: had the last seek won, the records before it would have been skipped, and their
      // requests would never end (seen on Kafka as a rate-limited request neither completed nor
      // failed).
      const passes = new Map<string, number>();
      const handled = new Set<string>();
      await bus.subscribe({
        stage: 'router',
        notifyRequester: true,
        handlers: {
          [RequestSubmittedEvent.type]: async (e) => {
            const id = (e.data as RequestSubmitted).requestId;
            passes.set(id, (passes.get(id) ?? 0) + 1);
            // Each fails its first pass (2 attempts) and succeeds in round 1.
            if (passes.get(id)! <= 2) throw new Unavailable('503');
            handled.add(id);
            return [];
          },
        },
      });
      const ids = Array.from({ length: 6 }, (_, i) => `key-${i}`);
      await bus.publish(
        ids.map((id) => outgoing(RequestSubmittedEvent, submitted(id, id), { tenantId: 'acme' })),
      );
      await until(() => handled.size === ids.length, 40_000, `all of ${ids.join(', ')} handled`);
      for (const id of ids) expect(passes.get(id)).toBe(3);
    });
  },
);
