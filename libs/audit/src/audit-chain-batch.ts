import {
  GENESIS_HASH,
  HASHED_COLUMNS,
  hashedColumnsOf,
  payloadDigest,
  recordHash,
  rendered,
  TENANT_PARAM,
} from './audit-chain';
import { insertValues, type AuditInsertRow } from './audit-insert-row';
import type { SqlClient } from './sql-client';

/** Rows one batch may hold: 28 parameters each, far below PostgreSQL's 65,535 per statement. */
export const MAX_CHAIN_BATCH = 64;

interface NormalisedRow extends Record<string, unknown> {
  head_seq: string | null;
  head_hash: string | null;
}

// insertChained's INSERT, one VALUES tuple per row (28 parameters each, in insertValues' order,
// then recorded_at, chain_seq, prev_hash, record_hash, payload_digest).
const INSERT_COLUMNS = `event_id, tenant_id, correlation_id, causation_id, type, source, subject, spec_version,
  schema_version, topic, topic_partition, topic_offset, event_time, attempt, traceparent, payload,
  stage, model_id, prompt_tokens, completion_tokens, cost_usd, latency_ms, sanitised_reason,
  recorded_at, chain_seq, prev_hash, record_hash, payload_digest`;
const CASTS: Readonly<Record<number, string>> = {
  12: '::bigint',
  13: '::timestamptz',
  16: '::jsonb',
  24: '::timestamptz',
  25: '::bigint',
};
const INSERT_WIDTH = 28;

/**
 * Inserts `rows`, in order, as the next links of their tenants' chains, in two statements (one
 * that renders every row's hashed columns and reads the heads, one multi-row INSERT), inside
 * `tx`, a transaction of a sole writer (ChainWriteOptions.soleWriter: no chain lock is taken).
 * Every row gets what insertChained would have given it, one after the other.
 *
 * Resolves true when every row was inserted. Resolves false when any row was already recorded
 * (its tenant, source and id), or repeats another of the batch: the links after it would then
 * be numbered wrongly, so the caller must roll `tx` back and insert the rows one at a time.
 * Errors are thrown unchanged (a permanent data error names no row: insert them one at a time).
 */
export async function insertChainedSoleWriterBatch(
  tx: SqlClient,
  rows: readonly AuditInsertRow[],
): Promise<boolean> {
  if (rows.length === 0) return true;
  if (rows.length > MAX_CHAIN_BATCH)
    throw new RangeError(`a chain batch holds at most ${MAX_CHAIN_BATCH} rows, not ${rows.length}`);
  const values = rows.map(insertValues);
  const width = 1 + HASHED_COLUMNS.length;
  const selects = values.map((_, r) => {
    const at = r * width;
    const columns = HASHED_COLUMNS.map(
      (c, i) => `${rendered(`$${at + i + 2}::${c.sqlType}`, c.render)} AS c_${c.column}`,
    ).join(', ');
    return `SELECT ${r} AS i, ${columns}, ${rendered('clock_timestamp()', 'time')} AS c_recorded_at,
       h.head_seq, h.head_hash
     FROM (SELECT 1) AS one
     LEFT JOIN LATERAL (
       SELECT chain_seq::text AS head_seq, record_hash AS head_hash FROM audit_events
       WHERE tenant_id = $${at + 1}::text AND chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1
     ) AS h ON true`;
  });
  const { rows: normalised } = await tx.query<NormalisedRow>(
    `${selects.join('\nUNION ALL\n')}\nORDER BY i`,
    values.flatMap((v) => [v[TENANT_PARAM], ...HASHED_COLUMNS.map((c) => v[c.param])]),
  );
  // Heads as the batch moves them: a tenant's second row links to its first.
  const heads = new Map<string, { seq: bigint; hash: string }>();
  const params = rows.flatMap((row, r) => {
    const columns = hashedColumnsOf(normalised[r]);
    const head = heads.get(row.tenantId) ?? {
      seq: BigInt(normalised[r].head_seq ?? '0'),
      hash: normalised[r].head_hash ?? GENESIS_HASH,
    };
    const chainSeq = head.seq + 1n;
    const digest = payloadDigest(JSON.parse(row.payload) as unknown);
    const hash = recordHash({
      tenantId: row.tenantId,
      chainSeq: chainSeq.toString(),
      prevHash: head.hash,
      payloadDigest: digest,
      columns,
    });
    heads.set(row.tenantId, { seq: chainSeq, hash });
    return [...values[r], columns['recorded_at'], chainSeq.toString(), head.hash, hash, digest];
  });
  const tuples = rows.map(
    (_, r) =>
      `(${Array.from({ length: INSERT_WIDTH }, (__, i) => `$${r * INSERT_WIDTH + i + 1}${CASTS[i + 1] ?? ''}`).join(', ')})`,
  );
  const inserted = await tx.query(
    `INSERT INTO audit_events (${INSERT_COLUMNS})
     VALUES ${tuples.join(',\n')}
     ON CONFLICT (tenant_id, source, event_id) DO NOTHING
     RETURNING seq`,
    params,
  );
  return inserted.rows.length === rows.length;
}
