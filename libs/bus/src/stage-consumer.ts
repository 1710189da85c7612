import {
  DeadLetteredEvent,
  eventByType,
  eventTypesOnTopic,
  EventEnvelope,
  decodeMessage,
  FailureCode,
  RequestFailedEvent,
  retryTopicsOf,
  Stage,
  isStorableText,
  TENANT_PATTERN,
  toStorableText,
  toStorableValue,
  truncateText,
  UNKNOWN_TENANT,
  validateAttributes,
  validatePayload,
} from '@llmbus/contracts';
import { isUtf8 } from 'node:buffer';
import { backOff } from 'exponential-backoff';
import type { Logger } from 'pino';
import { DeliveryDeferredError, EventRejectedError, isRetryable } from './errors';
import type { ConsumerBus } from './consumer-bus';
import { busMetrics } from './metrics';
import { outgoing, Outgoing } from './outgoing';
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
  /** Logger bound to correlation id, tenant and trace id. */
  readonly log: Logger;
  /** Where the event was read from (physical topic); consumers that record positions need it. */
  readonly message?: { readonly topic: string; readonly partition: number; readonly offset: string };
}

/**
 * Handles one validated event and returns the events it causes. Throw EventRejectedError for
 * input that can never succeed; any other error is retried with backoff, then dead-lettered.
 */
export type EventHandler = (
  event: EventEnvelope<object>,
  context: HandlerContext,
) => Promise<readonly Outgoing[]>;

export type StageHandlers = Readonly<Record<string, EventHandler>>;

interface ConsumerSetup {
  readonly stage: Stage;
  readonly groupId: string;
  readonly handlers: StageHandlers;
  readonly notifyRequester: boolean;
  readonly onRetriesExhausted?: 'dead-letter' | 'redeliver';
  readonly log: Logger;
}

const DLQ_VALUE_LIMIT = 64 * 1024;
/** Longest Retry-After waited for in process; longer ones go to a delayed retry topic at once. */
const IN_PROCESS_WAIT_LIMIT_MS = 5_000;
const HEARTBEAT_EVERY_MS = 3000;

/** A rejected message with what is known of it, before its envelope could be trusted. */
interface Rejection {
  code: FailureCode;
  reason: string;
  errors: readonly string[];
  correlationId?: string;
  tenant?: string;
  causeId?: string;
  /** CloudEvents source of the rejected event: with tenant and id, what tells it from others. */
  causeSource?: string;
  replyTo?: string;
}

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
  output: RecordSink = bus.transport,
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
  const decoded = safeDecode(bus, setup, message);
  if ('rejection' in decoded) {
    await reject(bus, output, setup, message, decoded.rejection);
    return;
  }
  const { envelope, handler } = decoded;
  const log = setup.log.child({
    correlationId: envelope.correlationid,
    tenant: envelope.tenantid,
    traceId: traceIdOf(envelope.traceparent),
    eventId: envelope.id,
    eventType: envelope.type,
  });
  // An event is its tenant, source and id: the same id from another producer or tenant is not a duplicate.
  if (await bus.dedup.has(setup.groupId, envelope)) {
    log.debug({ eventSource: envelope.source }, 'duplicate event skipped');
    busMetrics.events.inc({ stage: setup.stage, type: envelope.type, outcome: 'duplicate' });
    return;
  }

  let deliveryAttempt = 0;
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
          message: { topic: message.topic, partition: message.partition, offset: message.offset },
        });
      },
      {
        numOfAttempts: bus.maxAttempts,
        startingDelay: bus.retryDelayMs,
        jitter: 'full',
        retry: (error: unknown, attempt: number) => {
          // A fault that asks for a long wait goes to a retry topic now instead of holding the partition.
          const retry = isRetryable(error);
          if (!retry) return false;
          const wait = retryAfterOf(error) ?? 0;
          if (wait > IN_PROCESS_WAIT_LIMIT_MS && retryRounds > retriedRounds) return false;
          log.warn({ err: error, attempt, retryAfterMs: wait || undefined }, 'handler failed, retrying');
          // Honour the fault's Retry-After (a model's 429/503) on top of the backoff delay.
          return wait > 0 ? new Promise<boolean>((resolve) => setTimeout(() => resolve(true), wait)) : true;
        },
      },
    );
  } catch (error) {
    clearInterval(timer);
    if (setup.onRetriesExhausted === 'redeliver' && !(error instanceof EventRejectedError)) {
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
    const rounds = retriedRounds > 0 ? ` and ${retriedRounds} delayed retry round(s)` : '';
    const rejection: Rejection =
      error instanceof EventRejectedError
        ? { code: error.code, reason: error.message, errors: error.details }
        : {
            code: isModelError(error) ? 'model_error' : 'processing_error',
            reason: `${setup.stage} could not process the event after ${deliveryAttempt} attempt(s)${rounds}: ${errorMessage(error)}`,
            errors: [],
          };
    log.error({ err: error, code: rejection.code }, 'event rejected');
    await reject(bus, output, setup, message, {
      ...rejection,
      correlationId: envelope.correlationid,
      tenant: envelope.tenantid,
      causeId: envelope.id,
      causeSource: envelope.source,
      replyTo: replyToOf(envelope.data),
    });
    return;
  }
  clearInterval(timer);
  await bus.publish(outputs, { envelope, stage: setup.stage }, output);
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

/**
 * Decodes, and turns a decoder that throws (e.g. a payload nested so deep that validation
 * overflows the stack) into a rejection: an input that cannot be read must never be redelivered
 * forever and block its partition.
 */
function safeDecode(bus: ConsumerBus, setup: ConsumerSetup, message: RawMessage): Decoded {
  try {
    return decode(bus, setup, message);
  } catch (error) {
    return {
      rejection: {
        code: 'invalid_payload',
        reason: `the event could not be validated (${cut(errorMessage(error), 300)}); send a flatter, smaller payload`,
        errors: ['value: not validatable'],
        correlationId: message.headers['ce_correlationid'] ?? message.key ?? undefined,
        tenant: message.headers['ce_tenantid'],
        causeId: message.headers['ce_id'],
        causeSource: message.headers['ce_source'],
      },
    };
  }
}

type Decoded = { envelope: EventEnvelope<object>; handler: EventHandler } | { rejection: Rejection };

function decode(bus: ConsumerBus, setup: ConsumerSetup, message: RawMessage): Decoded {
  // Binary or structured mode, by the content-type header; attributes and payload alike from here on.
  const event = decodeMessage(message.headers, message.value?.toString('utf8') ?? '');
  const attrsPlain = event.attributes;
  const body = event.data;
  const ce = event.attributePrefix;
  const bodyRequestId = isRecord(body) ? textOf(body['requestId']) : undefined;
  const known: Pick<Rejection, 'correlationId' | 'tenant' | 'causeId' | 'causeSource' | 'replyTo'> = {
    correlationId: textOf(attrsPlain['correlationid']) ?? message.key ?? bodyRequestId,
    tenant: textOf(attrsPlain['tenantid']),
    causeId: textOf(attrsPlain['id']),
    causeSource: textOf(attrsPlain['source']),
    replyTo: replyToOf(body),
  };
  const size = message.value?.length ?? 0;
  if (size > bus.maxEventBytes) {
    return {
      rejection: {
        ...known,
        code: 'oversize',
        reason: `message is ${size} bytes; the limit is ${bus.maxEventBytes} bytes. Send large documents in parts or by reference.`,
        errors: [`value: ${size} bytes > ${bus.maxEventBytes}`],
      },
    };
  }
  if (message.value && !isUtf8(message.value)) {
    // JSON on the wire is UTF-8 (RFC 8259 §8.1): a lossy decode would silently change what was sent.
    return {
      rejection: {
        ...known,
        code: 'invalid_event',
        reason:
          'the message value is not valid UTF-8 (invalid, overlong or cut byte sequences); send the JSON payload encoded as UTF-8',
        errors: ['value: not UTF-8'],
      },
    };
  }
  if (event.problem) {
    return { rejection: { ...known, code: 'invalid_event', ...event.problem } };
  }
  if (attrsPlain['tenantid'] === undefined) {
    return {
      rejection: {
        ...known,
        code: 'missing_tenant',
        reason:
          event.mode === 'binary'
            ? 'the event has no tenant: set the ce_tenantid header (CloudEvents binary mode) to your tenant id'
            : 'the event has no tenant: set the tenantid attribute (a top-level member of the structured-mode JSON body) to your tenant id',
        errors: [`${ce}tenantid: required`],
      },
    };
  }
  const attrs = validateAttributes(attrsPlain);
  if (!attrs.ok) {
    const where = event.mode === 'binary' ? 'headers' : 'attributes of the structured-mode body';
    return {
      rejection: {
        ...known,
        code: 'invalid_event',
        reason: `the CloudEvents ${where} are invalid: ${attrs.errors.join('; ')}`,
        errors: attrs.errors.map((e) => `${ce}${e}`),
      },
    };
  }
  const logicalTopic = bus.logicalTopic(message.topic) ?? message.topic;
  const allowed = eventTypesOnTopic(logicalTopic);
  const definition = eventByType(attrs.value.type);
  if (!definition || !allowed.includes(attrs.value.type)) {
    return {
      rejection: {
        ...known,
        code: 'unknown_event_type',
        reason: `event type "${attrs.value.type}" is not accepted on ${logicalTopic}; expected one of: ${allowed.join(', ')}`,
        errors: [`${ce}type: ${attrs.value.type}`],
      },
    };
  }
  const handler = setup.handlers[attrs.value.type] ?? setup.handlers['*'];
  if (event.dataProblem) {
    return { rejection: { ...known, code: 'invalid_event', ...event.dataProblem } };
  }
  const payload = validatePayload(definition, body);
  if (!payload.ok) {
    return {
      rejection: {
        ...known,
        code: 'invalid_payload',
        reason: `${definition.payload.name} payload is invalid: ${payload.errors.join('; ')}`,
        errors: payload.errors,
      },
    };
  }
  if (!handler) {
    // Subscribed to the topic for another type; this one is not ours to handle.
    return { envelope: { ...attrs.value, data: payload.value }, handler: async () => [] };
  }
  return { envelope: { ...attrs.value, data: payload.value }, handler };
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

async function reject(
  bus: ConsumerBus,
  output: RecordSink,
  setup: ConsumerSetup,
  message: RawMessage,
  rejection: Rejection,
): Promise<void> {
  if (bus.logicalTopic(message.topic) === bus.deadLetterTopic(setup.stage).name) {
    // Dead-lettering a record of our own dead-letter topic would feed it back to us forever.
    setup.log.error(
      { code: rejection.code, offset: message.offset },
      `own dead-letter record unreadable: ${rejection.reason}`,
    );
    return;
  }
  const tenantOk = rejection.tenant !== undefined && TENANT_PATTERN.test(rejection.tenant);
  const tenant = tenantOk ? rejection.tenant! : UNKNOWN_TENANT;
  const value = message.value?.toString('utf8') ?? '';
  // The dead-letter record must itself fit the event limit, even after JSON escaping (up to 6x).
  const valueLimit = Math.min(DLQ_VALUE_LIMIT, Math.floor(bus.maxEventBytes / 8));
  const truncated = value.length > valueLimit;
  // The record must be storable by every consumer (the auditor): NUL bytes become U+FFFD and the
  // copy is marked, so it is never replayed as if it were the message received.
  const cutValue = truncateText(value, valueLimit);
  const texts = [cutValue, message.key ?? '', ...Object.entries(message.headers).flat()];
  const sanitised = !texts.every(isStorableText);
  // Ids of what we publish derive from the cause's id: one that is missing, empty or too long for an
  // envelope falls back to the message's position, which is unique and stable across redelivery.
  const position = `${message.topic}:${message.partition}:${message.offset}`;
  const causeId = usableId(rejection.causeId) ?? position;
  const correlationId = usableId(rejection.correlationId);
  const cause = {
    envelope: {
      id: causeId,
      source: rejection.causeSource ?? 'unknown',
      type: 'unknown',
      specversion: '1.0' as const,
      time: new Date().toISOString(),
      correlationid: correlationId ?? causeId,
      tenantid: tenant,
      traceparent: message.headers['ce_traceparent'],
      schemaversion: 1,
      data: {},
    },
    stage: setup.stage,
  };
  const events: Outgoing[] = [
    outgoing(
      DeadLetteredEvent,
      {
        stage: setup.stage,
        consumerGroup: setup.groupId,
        originalTopic: message.topic,
        originalPartition: message.partition,
        originalOffset: message.offset,
        originalKey: message.key === null ? undefined : toStorableText(message.key),
        originalHeaders: toStorableValue({ ...message.headers }),
        originalValue: toStorableText(cutValue),
        originalValueTruncated: truncated || undefined,
        originalSanitised: sanitised || undefined,
        reasonCode: rejection.code,
        reason: cut(rejection.reason, 2000),
        errors: rejection.errors.slice(0, 100).map((e) => cut(e, 1000)),
        correlationId: rejection.correlationId === undefined ? undefined : cut(rejection.correlationId, 200),
      },
      { topic: bus.deadLetterTopic(setup.stage) },
    ),
  ];
  const requestId = rejection.correlationId;
  const isRequestFailure = message.headers['ce_type'] === RequestFailedEvent.type;
  if (
    setup.notifyRequester &&
    requestId &&
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(requestId) &&
    !isRequestFailure
  ) {
    events.push(
      outgoing(RequestFailedEvent, {
        requestId,
        code: rejection.code,
        message: cut(rejection.reason, 2000),
        stage: setup.stage,
        details: rejection.errors.slice(0, 100).map((e) => cut(e, 1000)),
        replyTo: rejection.replyTo,
      }),
    );
  }
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

/**
 * An id an envelope can carry (1-200 characters of storable text, as `EnvelopeAttributes`
 * requires), or undefined.
 */
function usableId(id: string | undefined): string | undefined {
  return id !== undefined && id.length > 0 && id.length <= 200 && isStorableText(id) ? id : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function replyToOf(body: unknown): string | undefined {
  return isRecord(body) && typeof body['replyTo'] === 'string' ? cut(body['replyTo'], 500) : undefined;
}

/** Text of a dead-letter or failure record: cut on a code-point boundary and storable. */
function cut(text: string, maxCodeUnits: number): string {
  return toStorableText(truncateText(text, maxCodeUnits));
}

function isModelError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ModelError';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
