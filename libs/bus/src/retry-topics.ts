import { retryTopicsOf, type Stage } from '@llmbus/contracts';
import type { OutgoingRecord, RawMessage } from './transport';

/**
 * Kafka headers a retry record carries besides the original message's own headers. They are not
 * CloudEvents attributes (no `ce_` prefix), so the envelope of the copied event is unchanged.
 */
export const RETRY_HEADERS = {
  /** Physical topic the event was first consumed from; where it is handled (and replayed) as. */
  topic: 'llmbus_retry_topic',
  partition: 'llmbus_retry_partition',
  offset: 'llmbus_retry_offset',
  /** Retry round (1-based) this record belongs to. */
  round: 'llmbus_retry_round',
  /** Epoch milliseconds before which the record is not handled. */
  dueAt: 'llmbus_retry_due_at',
  /** Why the previous attempt failed, for operators reading the topic. */
  reason: 'llmbus_retry_reason',
} as const;

const RETRY_HEADER_NAMES = new Set<string>(Object.values(RETRY_HEADERS));

/** A message read back from a retry topic. */
export interface RetryDelivery {
  /** The message as first consumed (topic, partition, offset, key, headers, value). */
  readonly original: RawMessage;
  /** Rounds already used (1 after the first retry topic). */
  readonly round: number;
  readonly dueAt: number;
}

/**
 * Reads a retry record, or returns undefined when the message is not one (no retry headers, or
 * headers that do not parse: such a message is then handled as an ordinary event).
 */
export function readRetryRecord(message: RawMessage): RetryDelivery | undefined {
  const h = message.headers;
  const topic = h[RETRY_HEADERS.topic];
  const round = Number(h[RETRY_HEADERS.round]);
  const dueAt = Number(h[RETRY_HEADERS.dueAt]);
  const partition = Number(h[RETRY_HEADERS.partition] ?? message.partition);
  if (!topic || !Number.isInteger(round) || round < 1 || !Number.isFinite(dueAt)) return undefined;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) if (!RETRY_HEADER_NAMES.has(name)) headers[name] = value;
  return {
    original: {
      topic,
      partition: Number.isInteger(partition) ? partition : message.partition,
      offset: h[RETRY_HEADERS.offset] ?? message.offset,
      key: message.key,
      headers,
      value: message.value,
    },
    round,
    dueAt,
  };
}

/**
 * The record that schedules `original` for retry round `round` (1-based) on `topic`, due
 * `delayMs` milliseconds from `now`. Key, headers and value are the original's, byte for byte, so
 * the retried event keeps its id (and de-duplication) and its content mode.
 */
export function retryRecord(
  original: RawMessage,
  options: { topic: string; round: number; delayMs: number; reason: string; now?: number },
): OutgoingRecord {
  return {
    topic: options.topic,
    key: original.key ?? '',
    headers: {
      ...original.headers,
      [RETRY_HEADERS.topic]: original.topic,
      [RETRY_HEADERS.partition]: String(original.partition),
      [RETRY_HEADERS.offset]: original.offset,
      [RETRY_HEADERS.round]: String(options.round),
      [RETRY_HEADERS.dueAt]: String((options.now ?? Date.now()) + options.delayMs),
      // Header values must stay small and printable: the reason is for people, the trail has the rest.
      [RETRY_HEADERS.reason]: options.reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 300),
    },
    value: original.value ?? Buffer.alloc(0),
  };
}

/**
 * The delay of a retry round: the round's configured delay, or longer when the failure said when
 * to come back (a model's `Retry-After`), capped at `maxMs`. Milliseconds.
 */
export function retryDelay(
  delaysMs: readonly number[],
  round: number,
  retryAfterMs: number | undefined,
  maxMs = 15 * 60_000,
): number {
  const base = delaysMs[Math.min(round, delaysMs.length) - 1] ?? 0;
  return Math.min(Math.max(base, retryAfterMs ?? 0), maxMs);
}

/**
 * Which round's topic (0-based index) holds a retry due in `delayMs`: the round's own topic, or a
 * later one whose delay covers it, so that no record waits behind an older one for longer than
 * that topic's delay.
 */
export function retryTopicIndex(delaysMs: readonly number[], round: number, delayMs: number): number {
  let index = Math.min(round, delaysMs.length) - 1;
  while (index < delaysMs.length - 1 && delaysMs[index] < delayMs) index += 1;
  return index;
}

/** True when a physical topic is one of a stage's retry topics. */
export function isRetryTopicOf(stage: Stage, logicalTopic: string | undefined): boolean {
  return logicalTopic !== undefined && retryTopicsOf(stage).some((t) => t.name === logicalTopic);
}
