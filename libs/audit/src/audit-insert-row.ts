import { toStorableText, toStorableValue, truncateText, type EventEnvelope } from '@llmbus/contracts';
import { extractColumns } from './audit-columns';
import type { BusPosition } from './audit-store';

/** The values of one audit_events insert; the database adds seq and recorded_at. */
export interface AuditInsertRow {
  readonly eventId: string;
  readonly tenantId: string;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly type: string;
  readonly source: string;
  readonly subject: string | null;
  readonly specVersion: string;
  readonly schemaVersion: number;
  readonly topic: string;
  readonly partition: number;
  /** Decimal Kafka offset (exceeds 2^53). */
  readonly offset: string;
  /** ISO 8601 event time. */
  readonly eventTime: string;
  readonly attempt: number | null;
  readonly traceparent: string | null;
  /** The payload as JSON text. */
  readonly payload: string;
  readonly stage: string | null;
  readonly modelId: string | null;
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
  /** US dollars. */
  readonly costUsd: number | null;
  readonly latencyMs: number | null;
  /** Null when stored as received; else why PostgreSQL refused the event as received. */
  readonly sanitisedReason: string | null;
}

/** The row of an event as received. */
export function insertRowOf(envelope: EventEnvelope, position: BusPosition): AuditInsertRow {
  const c = extractColumns(envelope);
  return {
    eventId: envelope.id,
    tenantId: envelope.tenantid,
    correlationId: envelope.correlationid,
    causationId: envelope.causationid ?? null,
    type: envelope.type,
    source: envelope.source,
    subject: envelope.subject ?? null,
    specVersion: envelope.specversion,
    schemaVersion: envelope.schemaversion,
    topic: position.topic,
    partition: position.partition,
    offset: position.offset,
    eventTime: envelope.time,
    attempt: envelope.attempt ?? null,
    traceparent: envelope.traceparent ?? null,
    payload: JSON.stringify(envelope.data ?? {}),
    ...c,
    sanitisedReason: null,
  };
}

const INT4_MAX = 2 ** 31 - 1;
/** cost_usd is numeric(20, 10): below 10^10 in absolute value. */
const COST_LIMIT = 1e10;

const int4OrNull = (value: number | null) =>
  value !== null && Number.isInteger(value) && Math.abs(value) <= INT4_MAX ? value : null;
const textOrNull = (value: string | null) => (value === null ? null : toStorableText(value));

/**
 * A copy of a refused row that PostgreSQL can hold: every text (the payload's strings and keys
 * included) with U+0000 and lone surrogates replaced by U+FFFD, nullable numbers that overflow
 * their column dropped (the payload keeps them), and the refusal's reason (cut to 1000 characters).
 */
export function storableCopy(row: AuditInsertRow, reason: string): AuditInsertRow {
  return {
    ...row,
    eventId: toStorableText(row.eventId),
    tenantId: toStorableText(row.tenantId),
    correlationId: toStorableText(row.correlationId),
    causationId: textOrNull(row.causationId),
    type: toStorableText(row.type),
    source: toStorableText(row.source),
    subject: textOrNull(row.subject),
    specVersion: toStorableText(row.specVersion),
    topic: toStorableText(row.topic),
    eventTime: toStorableText(row.eventTime),
    attempt: int4OrNull(row.attempt),
    traceparent: textOrNull(row.traceparent),
    // JSON.parse restores what JSON.stringify escaped (\u0000, a lone \udXXX), so it can be replaced.
    payload: JSON.stringify(toStorableValue(JSON.parse(row.payload) as unknown)),
    stage: textOrNull(row.stage),
    modelId: textOrNull(row.modelId),
    promptTokens: int4OrNull(row.promptTokens),
    completionTokens: int4OrNull(row.completionTokens),
    costUsd: row.costUsd !== null && Math.abs(row.costUsd) < COST_LIMIT ? row.costUsd : null,
    sanitisedReason: toStorableText(truncateText(reason, 1000)),
  };
}

/** The row's values in the column order of the store's INSERT statement. */
export function insertValues(row: AuditInsertRow): unknown[] {
  return [
    row.eventId,
    row.tenantId,
    row.correlationId,
    row.causationId,
    row.type,
    row.source,
    row.subject,
    row.specVersion,
    row.schemaVersion,
    row.topic,
    row.partition,
    row.offset,
    row.eventTime,
    row.attempt,
    row.traceparent,
    row.payload,
    row.stage,
    row.modelId,
    row.promptTokens,
    row.completionTokens,
    row.costUsd,
    row.latencyMs,
    row.sanitisedReason,
  ];
}
