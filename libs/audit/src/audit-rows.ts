import type { EventEnvelope } from '@llmbus/contracts';
import type { AuditRecord } from './audit-store';
import { isoTime } from './iso-time';

/** Columns every query that returns whole events selects, in this shape. */
export const RECORD_COLUMNS = `event_id, tenant_id, correlation_id, causation_id, type, source, subject, spec_version,
  schema_version, topic, topic_partition, topic_offset::text AS topic_offset, event_time, recorded_at, attempt,
  traceparent, payload, sanitised_reason, chain_seq::text AS chain_seq, prev_hash, record_hash, payload_digest,
  payload_removed_at`;

/** A row as both drivers return RECORD_COLUMNS (timestamps may come back as Date or string). */
export interface RecordRow {
  event_id: string;
  tenant_id: string;
  correlation_id: string;
  causation_id: string | null;
  type: string;
  source: string;
  subject: string | null;
  spec_version: string;
  schema_version: number;
  topic: string;
  topic_partition: number;
  topic_offset: string;
  event_time: Date | string;
  recorded_at: Date | string;
  attempt: number | null;
  traceparent: string | null;
  payload: Record<string, unknown> | string;
  sanitised_reason: string | null;
  chain_seq: string | null;
  prev_hash: string | null;
  record_hash: string | null;
  payload_digest: string | null;
  payload_removed_at: Date | string | null;
}

export { isoTime };

/** Rebuilds the stored envelope and position; optional attributes absent in the event stay absent. */
export function toRecord(row: RecordRow): AuditRecord {
  const envelope: EventEnvelope<Record<string, unknown>> = {
    id: row.event_id,
    source: row.source,
    type: row.type,
    specversion: '1.0',
    time: isoTime(row.event_time),
    correlationid: row.correlation_id,
    tenantid: row.tenant_id,
    schemaversion: row.schema_version,
    ...(row.subject !== null && { subject: row.subject }),
    ...(row.causation_id !== null && { causationid: row.causation_id }),
    ...(row.traceparent !== null && { traceparent: row.traceparent }),
    ...(row.attempt !== null && { attempt: row.attempt }),
    data:
      typeof row.payload === 'string' ? (JSON.parse(row.payload) as Record<string, unknown>) : row.payload,
  };
  return {
    envelope,
    position: { topic: row.topic, partition: row.topic_partition, offset: row.topic_offset },
    recordedAt: isoTime(row.recorded_at),
    ...(row.sanitised_reason !== null && { sanitisedReason: row.sanitised_reason }),
    ...(row.chain_seq !== null &&
      row.prev_hash !== null &&
      row.record_hash !== null &&
      row.payload_digest !== null && {
        chain: {
          seq: Number(row.chain_seq),
          prevHash: row.prev_hash,
          hash: row.record_hash,
          payloadDigest: row.payload_digest,
        },
      }),
    ...(row.payload_removed_at !== null && { payloadRemovedAt: isoTime(row.payload_removed_at) }),
  };
}
