import {
  DeadLetteredEvent,
  DocumentDeletedEvent,
  DocumentFailedEvent,
  DocumentSubmittedEvent,
  eventByType,
  EventEnvelope,
  FailureCode,
  ID_PATTERN,
  isStorableText,
  isTerminalError,
  LINE_MAX_LENGTH,
  LIST_MAX_ITEMS,
  MESSAGE_MAX_LENGTH,
  NAME_MAX_LENGTH,
  RequestFailedEvent,
  Stage,
  TENANT_PATTERN,
  Topics,
  toStorableText,
  toStorableValue,
  TopicSpec,
  truncateText,
  UNKNOWN_TENANT,
} from '@llmbus/contracts';
import { outgoing, Outgoing } from './outgoing';
import { cut, errorMessage, Rejection } from './rejection';
import type { RawMessage } from './transport';

/** Largest copy of a rejected message value kept in its dead-letter record, in UTF-16 code units. */
const DLQ_VALUE_LIMIT = 64 * 1024;
/**
 * Share of the event limit a rejected message's headers (names and values, JSON-encoded) may take
 * in its dead-letter record: the value takes up to 6/8 (1/8 in code units, up to 6 bytes each once
 * escaped), the rest of the record the remainder. Unbounded, a header of a few hundred KiB (of
 * control characters, which JSON escapes to six bytes each) made the record too big to publish, so
 * the message could be neither dead-lettered nor committed and was redelivered for ever. 1/8 is 64
 * KiB at the default limit: the headers llmbus writes (a 16 KiB `llmbus_pii` at most) fit whole.
 */
const DLQ_HEADERS_SHARE = 1 / 8;

/** Where and for whom a rejection is dead-lettered. */
export interface DeadLetterSetup {
  readonly stage: Stage;
  readonly groupId: string;
  /** Whether the requester is told (RequestFailed) when a request id is known. */
  readonly notifyRequester: boolean;
  /** The bus's event size limit in bytes: the dead-letter record must fit it too. */
  readonly maxEventBytes: number;
  /** The stage's dead-letter topic. */
  readonly deadLetterTopic: TopicSpec;
  /**
   * Logical topic (without namespace prefix) the message was read from, when known: a message of no
   * known type read from the document ingest topic is answered as a document's.
   */
  readonly originTopic?: string;
}

/** The events a rejection becomes, and the synthetic cause their ids and tenant derive from. */
export interface DeadLetterEvents {
  readonly cause: { readonly envelope: EventEnvelope; readonly stage: Stage };
  /**
   * DeadLettered first (on the dead-letter topic), then, when the requester is told, DocumentFailed
   * (on the document outcome topic) for a document's event or RequestFailed for any other.
   */
  readonly events: readonly Outgoing[];
}

/**
 * Builds what a rejected message becomes: a DeadLettered record holding a storable copy of the
 * message (value cut to fit the event limit, NUL bytes and lone surrogates replaced and marked)
 * and, when the stage notifies requesters, what to fix told where the sender listens: for a
 * DocumentSubmitted or DocumentDeleted (or an event of no known type read from the ingest topic) a
 * DocumentFailed on `documents.indexed.v1`, keyed by the payload's document id (else the correlation
 * id), next to DocumentIndexed and DocumentRemoved; for any other event, when a usable request id is
 * known, a RequestFailed on the result topic. A RequestFailed is never answered with another one.
 * Pure: `now` stamps the cause.
 */
export function deadLetterEvents(
  message: RawMessage,
  rejection: Rejection,
  setup: DeadLetterSetup,
  now: Date = new Date(),
): DeadLetterEvents {
  const tenantOk = rejection.tenant !== undefined && TENANT_PATTERN.test(rejection.tenant);
  const tenant = tenantOk ? rejection.tenant! : UNKNOWN_TENANT;
  const value = message.value?.toString('utf8') ?? '';
  // The dead-letter record must itself fit the event limit, even after JSON escaping (up to 6x).
  const valueLimit = Math.min(DLQ_VALUE_LIMIT, Math.floor(setup.maxEventBytes / 8));
  const truncated = value.length > valueLimit;
  // The record must be storable by every consumer (the auditor): NUL bytes become U+FFFD and the
  // copy is marked, so it is never replayed as if it were the message received.
  const cutValue = truncateText(value, valueLimit);
  const headers = keptHeaders(message.headers, Math.floor(setup.maxEventBytes * DLQ_HEADERS_SHARE));
  const key = message.key === null ? undefined : truncateText(message.key, LINE_MAX_LENGTH);
  const texts = [cutValue, key ?? '', ...Object.entries(headers.kept).flat()];
  // A cut key or header makes the copy differ from the message received, like a replaced character;
  // so do bytes that were not UTF-8, which decoding replaced with U+FFFD (the transport hands keys
  // and header values over decoded, so there a U+FFFD is taken as such a replacement).
  const notUtf8 =
    (message.value !== null && !Buffer.from(value, 'utf8').equals(message.value)) ||
    [key ?? '', ...Object.values(headers.kept)].some((text) => text.includes('\uFFFD'));
  const sanitised =
    notUtf8 || !texts.every(isStorableText) || headers.cut || key?.length !== message.key?.length;
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
      time: now.toISOString(),
      correlationid: correlationId ?? causeId,
      tenantid: tenant,
      traceparent: message.headers['ce_traceparent'],
      schemaversion: 1,
      data: {},
    },
    stage: setup.stage,
  };
  const errors = rejection.errors.slice(0, LIST_MAX_ITEMS).map((e) => cut(e, LINE_MAX_LENGTH));
  const events: Outgoing[] = [
    outgoing(
      DeadLetteredEvent,
      {
        stage: setup.stage,
        consumerGroup: setup.groupId,
        originalTopic: message.topic,
        originalPartition: message.partition,
        originalOffset: message.offset,
        originalKey: key === undefined ? undefined : toStorableText(key),
        originalHeaders: toStorableValue(headers.kept),
        originalValue: toStorableText(cutValue),
        originalValueTruncated: truncated || undefined,
        originalSanitised: sanitised || undefined,
        reasonCode: rejection.code,
        reason: cut(rejection.reason, MESSAGE_MAX_LENGTH),
        errors,
        correlationId:
          rejection.correlationId === undefined ? undefined : cut(rejection.correlationId, NAME_MAX_LENGTH),
      },
      { topic: setup.deadLetterTopic },
    ),
  ];
  // The stage tells senders, unless the error said the dead letter alone must say it.
  const notify = setup.notifyRequester && rejection.notifyRequester !== false;
  if (notify && isDocumentEvent(rejection.eventType, setup.originTopic)) {
    const documentId = [rejection.documentId, rejection.correlationId].find(
      (id) => id !== undefined && ID_PATTERN.test(id),
    );
    if (documentId !== undefined) {
      const collection = rejection.collection;
      events.push(
        outgoing(DocumentFailedEvent, {
          documentId,
          collection: collection !== undefined && ID_PATTERN.test(collection) ? collection : undefined,
          code: rejection.code,
          message: cut(rejection.reason, MESSAGE_MAX_LENGTH),
          stage: setup.stage,
          details: errors,
        }),
      );
    }
    return { cause, events };
  }
  const requestId = rejection.correlationId;
  const isRequestFailure = message.headers['ce_type'] === RequestFailedEvent.type;
  if (notify && requestId && ID_PATTERN.test(requestId) && !isRequestFailure) {
    events.push(
      outgoing(RequestFailedEvent, {
        requestId,
        code: rejection.code,
        message: cut(rejection.reason, MESSAGE_MAX_LENGTH),
        stage: setup.stage,
        details: errors,
        replyTo: rejection.replyTo,
      }),
    );
  }
  return { cause, events };
}

/** Event types whose sender waits for the outcome on `documents.indexed.v1`, not the result topic. */
const DOCUMENT_EVENT_TYPES: readonly string[] = [DocumentSubmittedEvent.type, DocumentDeletedEvent.type];

/**
 * Whether a rejected message is a document's: its type is DocumentSubmitted or DocumentDeleted, or
 * it names no type the platform knows and was read from the document ingest topic.
 */
function isDocumentEvent(eventType: string | undefined, originTopic: string | undefined): boolean {
  if (eventType !== undefined && DOCUMENT_EVENT_TYPES.includes(eventType)) return true;
  const known = eventType !== undefined && eventByType(eventType) !== undefined;
  return !known && originTopic === Topics.DocumentIngest.name;
}

/** How a handler's failure ended, for the rejection of the event it was handling. */
export interface HandlerFailure {
  readonly stage: Stage;
  /** Handler attempts made in this process. */
  readonly attempts: number;
  /** Delayed retry rounds (retry topics) the event had been through before. */
  readonly retriedRounds: number;
}

/**
 * The rejection of an event whose handler failed for good: a terminal error keeps its own code,
 * message and details (they say what to fix); any other error is reported with the attempts made.
 */
export function rejectionOfFailure(
  error: unknown,
  failure: HandlerFailure,
): Pick<Rejection, 'code' | 'reason' | 'errors' | 'notifyRequester'> {
  if (isTerminalError(error)) {
    const silent = (error as { notifyRequester?: unknown }).notifyRequester === false;
    return {
      code: error.code,
      reason: error.message,
      errors: error.details,
      ...(silent && { notifyRequester: false }),
    };
  }
  const rounds = failure.retriedRounds > 0 ? ` and ${failure.retriedRounds} delayed retry round(s)` : '';
  return {
    code: failureCodeOf(error),
    reason: `${failure.stage} could not process the event after ${failure.attempts} attempt(s)${rounds}: ${errorMessage(error)}`,
    errors: [],
  };
}

/**
 * The RequestFailed code an error ends a request with: the one place errors map to codes. A
 * terminal error carries its own; a model error that outlasted its retries is `rate_limited` when
 * a rate limit (ours or the provider's) refused it, so the requester can tell "slow down" from a
 * broken model, and `model_error` otherwise.
 */
export function failureCodeOf(error: unknown): FailureCode {
  if (isTerminalError(error)) return error.code;
  if (!(error instanceof Error) || error.name !== 'ModelError') return 'processing_error';
  return (error as { code?: unknown }).code === 'rate_limited' ? 'rate_limited' : 'model_error';
}

/**
 * An id an envelope can carry (1 to NAME_MAX_LENGTH characters of storable text, as `EnvelopeAttributes`
 * requires), or undefined.
 */
function usableId(id: string | undefined): string | undefined {
  return id !== undefined && id.length > 0 && id.length <= NAME_MAX_LENGTH && isStorableText(id)
    ? id
    : undefined;
}

/**
 * The headers kept in a dead-letter record: the `ce_*` headers first, then the others in their
 * order, whole while their names (cut to NAME_MAX_LENGTH) and values fit `limitBytes` once
 * JSON-encoded (all together); the first that does not is cut to what surely fits (6 bytes a code
 * unit) and the rest are left out. `cut` says whether anything was cut or left out (the copy can
 * then not be replayed as received).
 */
function keptHeaders(
  headers: Readonly<Record<string, string>>,
  limitBytes: number,
): { kept: Record<string, string>; cut: boolean } {
  const entries = Object.entries(headers);
  const ordered = [
    ...entries.filter(([name]) => name.startsWith('ce_')),
    ...entries.filter(([name]) => !name.startsWith('ce_')),
  ];
  // A member's bytes in the record's JSON: quoted and escaped, and its separator.
  const encoded = (text: string) => Buffer.byteLength(JSON.stringify(text)) + 1;
  let left = limitBytes;
  let cutAny = false;
  const kept: Record<string, string> = {};
  for (const [name, value] of ordered) {
    const keptName = truncateText(name, NAME_MAX_LENGTH);
    left -= encoded(keptName);
    if (left <= 0) {
      cutAny = true;
      break;
    }
    const whole = encoded(value);
    const keptValue = whole <= left ? value : truncateText(value, Math.floor(left / 6));
    left -= whole <= left ? whole : encoded(keptValue);
    if (keptName.length !== name.length || keptValue.length !== value.length) cutAny = true;
    kept[keptName] = keptValue;
  }
  return { kept, cut: cutAny };
}
