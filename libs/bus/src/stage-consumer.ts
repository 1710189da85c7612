import { EventEnvelope, isTerminalError, retryTopicsOf, Stage } from '@llmbus/contracts';
import { backOff } from 'exponential-backoff';
import type { Logger } from 'pino';
import type { ConsumerBus } from './consumer-bus';
import { deadLetterEvents, rejectionOfFailure } from './dead-letter';
import { DeliveryDeferredError, isRetryable } from './errors';
import { decodeEvent } from './event-decoder';
import { busMetrics } from './metrics';
import type { Outgoing } from './outgoing';
import { documentOf, errorMessage, Rejection, replyToOf } from './rejection';
import { lazyLogger } from './lazy-logger';
import { isRetryTopicOf, readRetryRecord, retryDelay, retryRecord, retryTopicIndex } from './retry-topics';
import { traceIdOf } from './trace-context';
import type { Heartbeat, RawMessage, RecordSink } from './transport';

/** What a handler gets besides the event. */
export interface HandlerContext {
  readonly stage: Stage;
  /** Delivery attempt within this process (1 on first try, more after retryable errors). */
  readonly deliveryAttempt: number;
  /** Keeps group membership alive during long work (model calls). */
  readonly heartbeat: Heartbeat;
  /**
   * Logger bound to correlation id, tenant, trace id, event id and type; made when a line is first
   * written through it (a handler that logs nothing costs no logger).
   */
  readonly log: Logger;
  /**
   * Aborted when the process stops and its grace period is over: pass it to long calls (models,
   * tools). A handler that fails after it is aborted leaves its event uncommitted for redelivery.
   */
  readonly signal: AbortSignal;
  /** Where the event was read from (physical topic); consumers that record positions need it. */
  readonly message?: { readonly topic: string; readonly partition: number; readonly offset: string };
}

/**
 * Handles one validated event and returns the events it causes. Throw a TerminalError (such as
 * EventRejectedError) for input that can never succeed; any other error is retried with backoff, then dead-lettered.
 */
export type EventHandler = (
  event: EventEnvelope<object>,
  context: HandlerContext,
) => Promise<readonly Outgoing[]>;

export type StageHandlers = Readonly<Record<string, EventHandler>>;

/** One subscription of a stage, as the consumer loop sees it. */
export interface ConsumerSetup {
  readonly stage: Stage;
  readonly groupId: string;
  readonly handlers: StageHandlers;
  readonly notifyRequester: boolean;
  readonly onRetriesExhausted?: 'dead-letter' | 'redeliver';
  readonly log: Logger;
}

/**
 * Longest Retry-After waited for in process; longer ones go to a delayed retry topic at once, or,
 * after the last round, are rejected at once.
 */
const IN_PROCESS_WAIT_LIMIT_MS = 5_000;
const HEARTBEAT_EVERY_MS = 3000;

/**
 * The consume-side contract of every stage: validate envelope and payload once, drop duplicates,
 * run the handler with bounded retries, publish its outputs, and only then let the transport commit.
 * Rejected input goes to the stage's dead-letter topic and, when a request id is known, the
 * requester gets a RequestFailed saying what to fix. Resolving means "commit"; throwing means
 * "redeliver" (only when publishing itself failed).
 */
export async function processMessage(
  bus: ConsumerBus,
  setup: ConsumerSetup,
  received: RawMessage,
  heartbeat: Heartbeat,
  output: RecordSink,
): Promise<void> {
  const started = process.hrtime.bigint();
  // A record of one of this stage's retry topics is handled as the message it copies, once due.
  let message = received;
  let retriedRounds = 0;
  const retry = isRetryTopicOf(setup.stage, bus.logicalTopic(received.topic))
    ? readRetryRecord(received)
    : undefined;
  if (retry) {
    const wait = retry.dueAt - Date.now();
    if (wait > 0) throw new DeliveryDeferredError(wait);
    message = retry.original;
    retriedRounds = retry.round;
  }
  const decoded = decodeEvent(message, {
    maxEventBytes: bus.maxEventBytes,
    logicalTopic: bus.logicalTopic(message.topic) ?? message.topic,
  });
  if (!decoded.ok) {
    await reject(bus, output, setup, message, decoded.rejection);
    return;
  }
  const { envelope } = decoded;
  // Subscribed to the topic for another type, an event that is not ours to handle yields nothing.
  const handler = setup.handlers[envelope.type] ?? setup.handlers['*'] ?? ignore;
  // The event's logger is made when first used (see lazyLogger): most events log nothing.
  const log = lazyLogger(setup.log, () =>
    setup.log.child({
      correlationId: envelope.correlationid,
      tenant: envelope.tenantid,
      traceId: traceIdOf(envelope.traceparent),
      eventId: envelope.id,
      eventType: envelope.type,
    }),
  );
  // An event is its tenant, source and id: the same id from another producer or tenant is not a duplicate.
  if (await bus.dedup.has(setup.groupId, envelope)) {
    log.debug({ eventSource: envelope.source }, 'duplicate event skipped');
    busMetrics.events.inc({ stage: setup.stage, type: envelope.type, outcome: 'duplicate' });
    return;
  }

  let deliveryAttempt = 0;
  /** Dead-letters the event for a terminal failure (or one out of retries) and tells its requester. */
  const rejectFailure = async (error: unknown, logMessage: string): Promise<void> => {
    const rejection = rejectionOfFailure(error, {
      stage: setup.stage,
      attempts: deliveryAttempt,
      retriedRounds,
    });
    log.error({ err: error, code: rejection.code }, logMessage);
    await reject(bus, output, setup, message, { ...rejection, ...identityOf(envelope) });
  };
  const retryRounds = bus.retryRounds(setup.stage, setup.onRetriesExhausted);
  const timer = setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS);
  let outputs: readonly Outgoing[];
  try {
    outputs = await backOff(
      () => {
        deliveryAttempt += 1;
        return handler(envelope, {
          stage: setup.stage,
          deliveryAttempt,
          heartbeat,
          log,
          signal: bus.shutdownSignal,
          message: { topic: message.topic, partition: message.partition, offset: message.offset },
        });
      },
      {
        numOfAttempts: bus.maxAttempts,
        startingDelay: bus.retryDelayMs,
        jitter: 'full',
        retry: (error: unknown, attempt: number) => {
          // Stopping: no new attempt; the event is left for redelivery below.
          if (bus.shutdownSignal.aborted) return false;
          // A fault that asks for a long wait goes to a retry topic now instead of holding the
          // partition; with no round left it is rejected now, not waited for in process (a
          // Retry-After of minutes would hold the partition past the rebalance timeout, and a
          // rate limit's Retry-After is when a slot frees, which the rounds already waited for).
          // A stage that redelivers (never dead-letters) keeps waiting, as it has no rounds.
          const retry = isRetryable(error);
          if (!retry) return false;
          const wait = retryAfterOf(error) ?? 0;
          if (
            wait > IN_PROCESS_WAIT_LIMIT_MS &&
            (retryRounds > retriedRounds || setup.onRetriesExhausted !== 'redeliver')
          ) {
            return false;
          }
          log.warn({ err: error, attempt, retryAfterMs: wait || undefined }, 'handler failed, retrying');
          // Honour the fault's Retry-After (a model's 429/503) on top of the backoff delay.
          return wait > 0 ? new Promise<boolean>((resolve) => setTimeout(() => resolve(true), wait)) : true;
        },
      },
    );
  } catch (error) {
    clearInterval(timer);
    if (bus.shutdownSignal.aborted) {
      // Cut short by the process stopping (its grace period is over), not a fault of the event:
      // neither retried nor dead-lettered; uncommitted, it comes again on the next start.
      log.warn(
        { err: error, attempts: deliveryAttempt },
        'handler aborted by shutdown; leaving the event uncommitted for redelivery',
      );
      busMetrics.events.inc({ stage: setup.stage, type: envelope.type, outcome: 'aborted' });
      throw error;
    }
    if (setup.onRetriesExhausted === 'redeliver' && !isTerminalError(error)) {
      log.error(
        { err: error, attempts: deliveryAttempt },
        'retries exhausted; leaving the event uncommitted for redelivery',
      );
      throw error;
    }
    if (isRetryable(error) && retriedRounds < retryRounds) {
      await scheduleRetry(bus, output, setup, message, retriedRounds + 1, error, log);
      busMetrics.events.inc({ stage: setup.stage, type: envelope.type, outcome: 'retry_scheduled' });
      return;
    }
    await rejectFailure(error, 'event rejected');
    return;
  }
  clearInterval(timer);
  try {
    await bus.publish(outputs, { envelope, stage: setup.stage }, output);
  } catch (error) {
    // An output that can never be published (over LLMBUS_MAX_EVENT_BYTES) fails the event instead
    // of bringing it back for ever (holding its key); a broker fault is thrown for redelivery.
    if (!isTerminalError(error)) throw error;
    await rejectFailure(error, 'event rejected: its output cannot be published');
    return;
  }
  await bus.dedup.add(setup.groupId, envelope);
  busMetrics.events.inc({ stage: setup.stage, type: envelope.type, outcome: 'handled' });
  busMetrics.latency.observe(
    { stage: setup.stage, type: envelope.type },
    Number(process.hrtime.bigint() - started) / 1e9,
  );
  log.debug({ outputs: outputs.map((o) => o.definition.type) }, 'event handled');
}

/**
 * Copies a message that failed with a transient fault to the stage's retry topic for `round`, so
 * its partition moves on; the copy is handled again once its delay (or the fault's Retry-After)
 * has passed. Resolves once the broker has the copy, so the original may then be committed.
 */
async function scheduleRetry(
  bus: ConsumerBus,
  output: RecordSink,
  setup: ConsumerSetup,
  original: RawMessage,
  round: number,
  error: unknown,
  log: Logger,
): Promise<void> {
  const delays = bus.retryTopicDelaysMs;
  const delayMs = retryDelay(delays, round, retryAfterOf(error));
  const spec = retryTopicsOf(setup.stage)[retryTopicIndex(delays, round, delayMs)];
  const topic = bus.physicalTopic(spec.name);
  await output.produce([retryRecord(original, { topic, round, delayMs, reason: errorMessage(error) })]);
  log.warn(
    { err: error, round, delayMs, retryTopic: topic },
    `handler failed; retry round ${round} scheduled in ${delayMs} ms`,
  );
}

/** The wait a failure asked for (a model's Retry-After), in milliseconds, when it says. */
function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('retryAfterMs' in error)) return undefined;
  const value = (error as { retryAfterMs: unknown }).retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** What a rejection of a decoded event says about it (request, tenant, cause, document). */
function identityOf(envelope: EventEnvelope): Omit<Rejection, 'code' | 'reason' | 'errors'> {
  return {
    correlationId: envelope.correlationid,
    tenant: envelope.tenantid,
    causeId: envelope.id,
    causeSource: envelope.source,
    replyTo: replyToOf(envelope.data),
    eventType: envelope.type,
    ...documentOf(envelope.data),
  };
}

/** The handler of an event type this subscription receives but does not handle. */
const ignore: EventHandler = () => Promise.resolve([]);

/**
 * Dead-letters a rejected message (and tells the requester when the stage does); resolves once
 * the broker has the records, so the message may then be committed.
 */
async function reject(
  bus: ConsumerBus,
  output: RecordSink,
  setup: ConsumerSetup,
  message: RawMessage,
  rejection: Rejection,
): Promise<void> {
  const deadLetterTopic = bus.deadLetterTopic(setup.stage);
  if (bus.logicalTopic(message.topic) === deadLetterTopic.name) {
    // Dead-lettering a record of our own dead-letter topic would feed it back to us forever.
    setup.log.error(
      { code: rejection.code, offset: message.offset },
      `own dead-letter record unreadable: ${rejection.reason}`,
    );
    return;
  }
  const { cause, events } = deadLetterEvents(message, rejection, {
    stage: setup.stage,
    groupId: setup.groupId,
    notifyRequester: setup.notifyRequester,
    maxEventBytes: bus.maxEventBytes,
    deadLetterTopic,
    originTopic: bus.logicalTopic(message.topic),
  });
  await bus.publish(events, cause, output);
  busMetrics.events.inc({
    stage: setup.stage,
    type: message.headers['ce_type'] ?? 'unknown',
    outcome: 'dead_lettered',
  });
  setup.log.warn(
    {
      code: rejection.code,
      correlationId: rejection.correlationId,
      topic: message.topic,
      offset: message.offset,
    },
    `event dead-lettered: ${rejection.reason}`,
  );
}
