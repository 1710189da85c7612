import {
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  RequestFailed,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
  RetryTopics,
} from '@llmbus/contracts';
import pino from 'pino';
import { EventBus } from './event-bus';
import { InMemoryTransport } from './in-memory-transport';
import { outgoing } from './outgoing';
import { readRetryRecord, retryDelay, retryRecord, retryTopicIndex } from './retry-topics';
import type { RawMessage } from './transport';
import { submitted, until } from './testing/bus-test-support';

const logger = pino({ level: 'silent' });

function routed(data: RequestSubmitted) {
  return outgoing(RequestRoutedEvent, {
    requestId: data.requestId,
    context: {
      workflow: { id: 'support-ticket', version: 1 },
      requester: data.requester,
      modelTier: 'small',
      budget: { maxOutputTokens: 100, maxCostUsd: 0 },
    },
    input: data.input,
    retrieval: { collections: [], topK: 0, query: '' },
  });
}

/** A transient fault, as a model adapter raises it. */
class TransientFault extends Error {
  readonly retryable = true;
  constructor(readonly retryAfterMs?: number) {
    super('model unavailable (503)');
  }
}

describe('delayed retry topics', () => {
  let transport: InMemoryTransport;
  let bus: EventBus;
  const seen: Record<string, EventEnvelope<object>[]> = {};

  async function collect(type: string) {
    seen[type] = [];
    await bus.subscribe({
      stage: 'auditor',
      groupId: `collector-${type}`,
      notifyRequester: false,
      handlers: { [type]: async (e) => (seen[type].push(e), []) },
    });
  }

  beforeEach(async () => {
    transport = new InMemoryTransport();
    bus = new EventBus(transport, {
      logger,
      maxAttempts: 2,
      retryDelayMs: 1,
      retryTopicDelaysMs: [30, 60, 90],
    });
    await collect(RequestRoutedEvent.type);
    await collect(RequestFailedEvent.type);
    await collect(DeadLetteredEvent.type);
  });
  afterEach(() => bus.close());

  it('hands a failing event to the retry topics and handles it on a later round', async () => {
    const calls: Record<string, number> = {};
    const handled: string[] = [];
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => {
          const data = e.data as RequestSubmitted;
          calls[data.requestId] = (calls[data.requestId] ?? 0) + 1;
          // "slow" fails its two in-process attempts of round 0 and of round 1, then succeeds.
          if (data.requestId === 'slow' && calls.slow <= 4) throw new TransientFault();
          handled.push(data.requestId);
          return [routed(data)];
        },
      },
    });
    const [input] = await bus.publish([
      outgoing(RequestSubmittedEvent, submitted('slow'), { tenantId: 'acme' }),
    ]);
    await until(() => seen[RequestRoutedEvent.type].length === 1, 5000);
    expect(calls.slow).toBe(5);
    expect(handled).toEqual(['slow']);
    expect(seen[DeadLetteredEvent.type]).toHaveLength(0);
    expect(seen[RequestFailedEvent.type]).toHaveLength(0);
    // The retried event keeps its identity: its output is caused by the original event.
    expect(seen[RequestRoutedEvent.type][0].causationid).toBe(input.id);
  });

  it('does not hold the partition while an event waits for its retry', async () => {
    const order: string[] = [];
    let failFirst = true;
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => {
          const data = e.data as RequestSubmitted;
          if (data.requestId === 'r' && e.id === 'first' && failFirst) {
            failFirst = false;
            throw new TransientFault(6_000);
          }
          order.push(e.id);
          return [routed(data)];
        },
      },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r'), { tenantId: 'acme', id: 'first' })]);
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r'), { tenantId: 'acme', id: 'later' })]);
    // "later" shares the partition and is handled while "first" waits out a Retry-After beyond the round delay.
    await until(() => order.includes('later'), 2000);
    expect(order).toEqual(['later']);
  });

  it('dead-letters after the last round with the original topic and tells the requester', async () => {
    let calls = 0;
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async () => {
          calls += 1;
          throw new TransientFault();
        },
      },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('doomed'), { tenantId: 'acme' })]);
    await until(() => seen[RequestFailedEvent.type].length === 1, 5000);
    // 2 in-process attempts in the first pass and in each of the 3 retry rounds.
    expect(calls).toBe(8);
    const failure = seen[RequestFailedEvent.type][0].data as RequestFailed;
    expect(failure).toMatchObject({ requestId: 'doomed', code: 'processing_error' });
    expect(failure.message).toContain('3 delayed retry round(s)');
    const dead = seen[DeadLetteredEvent.type][0].data as DeadLettered;
    expect(dead.originalTopic).toBe('orchestration.request.v1');
    expect(dead.originalHeaders).not.toHaveProperty('llmbus_retry_round');
  });

  it('after the last round, rejects a fault asking for a long Retry-After instead of waiting it out in process', async () => {
    // One round. The first pass fails without a Retry-After (3 attempts, then the round); the
    // round's pass is refused by a rate limit whose next slot is 10 minutes away. With no round
    // left, that used to be waited for in process, holding the partition, before failing.
    const oneRound = new EventBus(transport, {
      logger,
      maxAttempts: 3,
      retryDelayMs: 1,
      retryTopicDelaysMs: [30],
    });
    let calls = 0;
    const limited = Object.assign(
      new Error('rate limit reached: tenant acme requests per minute (1); the next slot is in 600000 ms'),
      { name: 'ModelError', code: 'rate_limited', retryable: true, retryAfterMs: 600_000 },
    );
    try {
      await oneRound.subscribe({
        stage: 'router',
        notifyRequester: true,
        handlers: {
          [RequestSubmittedEvent.type]: async () => {
            calls += 1;
            throw calls <= 3 ? new TransientFault() : limited;
          },
        },
      });
      await oneRound.publish([outgoing(RequestSubmittedEvent, submitted('limited'), { tenantId: 'acme' })]);
      await until(() => seen[RequestFailedEvent.type].length === 1, 10_000);
      expect(calls).toBe(4);
      const failure = seen[RequestFailedEvent.type][0].data as RequestFailed;
      expect(failure).toMatchObject({ requestId: 'limited', code: 'rate_limited' });
      expect(failure.message).toContain('tenant acme requests per minute (1)');
      expect(failure.message).toContain('1 delayed retry round(s)');
    } finally {
      await oneRound.close();
    }
  });

  it('does not retry through topics what can never succeed', async () => {
    let calls = 0;
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async () => {
          calls += 1;
          throw Object.assign(new Error('invalid input'), { retryable: false });
        },
      },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('bad'), { tenantId: 'acme' })]);
    await until(() => seen[DeadLetteredEvent.type].length === 1, 5000);
    expect(calls).toBe(1);
    expect(transport.committedOffset('llmbus.router', RetryTopics.router[0].name, 0)).toBe(0);
  });
});

describe('retry records', () => {
  const original: RawMessage = {
    topic: 'p.orchestration.request.v1',
    partition: 4,
    offset: '17',
    key: 'r-1',
    headers: { ce_id: 'e-1', ce_tenantid: 'acme' },
    value: Buffer.from('{"requestId":"r-1"}'),
  };

  it('round-trips the original message, headers and bytes included', () => {
    const record = retryRecord(original, { topic: 'retry', round: 2, delayMs: 100, reason: 'x', now: 1000 });
    const read = readRetryRecord({
      topic: 'retry',
      partition: 0,
      offset: '3',
      key: record.key,
      headers: record.headers,
      value: record.value as Buffer,
    });
    expect(read).toEqual({ original, round: 2, dueAt: 1100 });
  });

  it('keeps reasons header-safe', () => {
    const record = retryRecord(original, {
      topic: 't',
      round: 1,
      delayMs: 0,
      reason: 'bad\nline ü'.repeat(100),
    });
    expect(record.headers.llmbus_retry_reason).toMatch(/^[\x20-\x7e]{1,300}$/);
  });

  it('waits at least the round delay, or the Retry-After when longer, in a topic whose delay covers it', () => {
    const delays = [1000, 10_000, 60_000];
    expect(retryDelay(delays, 1, undefined)).toBe(1000);
    expect(retryDelay(delays, 2, 500)).toBe(10_000);
    expect(retryDelay(delays, 1, 30_000)).toBe(30_000);
    expect(retryDelay(delays, 1, 10 * 3600_000)).toBe(15 * 60_000);
    expect(retryTopicIndex(delays, 1, 1000)).toBe(0);
    expect(retryTopicIndex(delays, 1, 30_000)).toBe(2);
    expect(retryTopicIndex(delays, 3, 60_000)).toBe(2);
  });
});
