import { canonicalDigest } from '@llmbus/contracts';
import { insertValues, type AuditInsertRow } from './audit-insert-row';
import type { CommittedLink } from './recorded-statuses';
import type { SqlClient } from './sql-client';

/**
 * The tenant hash chain of the audit trail (chain version 1).
 *
 * Each recorded event gets, per tenant, a position `chain_seq` (1, 2, 3, ...), the hash of the
 * tenant's previous record `prev_hash` (GENESIS_HASH for position 1) and its own `record_hash`:
 * SHA-256 (hex) of the RFC 8785 (JCS) canonical JSON of ChainContent, that is every stored column
 * as PostgreSQL renders it, the payload represented by `payload_digest` (SHA-256 of the payload's
 * JCS form). Hashing the digest rather than the payload lets retention drop a payload and keep the
 * chain verifiable. The global `seq` is not hashed: it orders rows across tenants, not a chain.
 */
export const CHAIN_VERSION = 1;

/** prev_hash of a tenant's first chained record. Rows recorded before the chain existed have none. */
export const GENESIS_HASH = '0'.repeat(64);

/** First key of pg_advisory_xact_lock(int4, int4) for chain heads; the second is hashtext(tenant). */
export const CHAIN_LOCK_CLASS = 0x6c6d6263; // 'lmbc'

/** What a record hash covers; every value as PostgreSQL renders the stored column (text or null). */
export interface ChainContent {
  readonly tenantId: string;
  readonly chainSeq: string;
  readonly prevHash: string;
  readonly payloadDigest: string;
  readonly columns: Readonly<Record<string, string | null>>;
}

/** One stored column the hash covers, with its SQL type (parameters are cast to it). */
interface HashedColumn {
  readonly column: string;
  readonly sqlType: string;
  readonly render: 'text' | 'number' | 'time';
}

// In the order of the store's INSERT (insertValues), payload excluded (hashed through its digest)
// and tenant_id excluded (a field of its own in ChainContent).
const HASHED_COLUMNS: readonly (HashedColumn & { readonly param: number })[] = [
  { column: 'event_id', sqlType: 'text', render: 'text', param: 0 },
  { column: 'correlation_id', sqlType: 'text', render: 'text', param: 2 },
  { column: 'causation_id', sqlType: 'text', render: 'text', param: 3 },
  { column: 'type', sqlType: 'text', render: 'text', param: 4 },
  { column: 'source', sqlType: 'text', render: 'text', param: 5 },
  { column: 'subject', sqlType: 'text', render: 'text', param: 6 },
  { column: 'spec_version', sqlType: 'text', render: 'text', param: 7 },
  { column: 'schema_version', sqlType: 'integer', render: 'number', param: 8 },
  { column: 'topic', sqlType: 'text', render: 'text', param: 9 },
  { column: 'topic_partition', sqlType: 'integer', render: 'number', param: 10 },
  { column: 'topic_offset', sqlType: 'bigint', render: 'number', param: 11 },
  { column: 'event_time', sqlType: 'timestamptz', render: 'time', param: 12 },
  { column: 'attempt', sqlType: 'integer', render: 'number', param: 13 },
  { column: 'traceparent', sqlType: 'text', render: 'text', param: 14 },
  { column: 'stage', sqlType: 'text', render: 'text', param: 16 },
  { column: 'model_id', sqlType: 'text', render: 'text', param: 17 },
  { column: 'prompt_tokens', sqlType: 'integer', render: 'number', param: 18 },
  { column: 'completion_tokens', sqlType: 'integer', render: 'number', param: 19 },
  { column: 'cost_usd', sqlType: 'numeric(20, 10)', render: 'number', param: 20 },
  { column: 'latency_ms', sqlType: 'double precision', render: 'number', param: 21 },
  { column: 'sanitised_reason', sqlType: 'text', render: 'text', param: 22 },
];
const TENANT_PARAM = 1;

/** Microseconds, UTC: exact for timestamptz, and independent of the session's TimeZone. */
const TIME_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

function rendered(expression: string, render: HashedColumn['render']): string {
  switch (render) {
    case 'text':
      return expression;
    case 'number':
      return `(${expression})::text`;
    case 'time':
      return `to_char((${expression}) AT TIME ZONE 'UTC', ${TIME_FORMAT})`;
  }
}

/**
 * The hashed columns of audit_events as `c_<column>` text, for queries that verify the chain.
 * float8 renders shortest-exact only with extra_float_digits >= 1: run it after pinChainSession.
 */
export const HASHED_COLUMNS_SQL = [
  ...HASHED_COLUMNS.map((c) => `${rendered(c.column, c.render)} AS c_${c.column}`),
  `${rendered('recorded_at', 'time')} AS c_recorded_at`,
].join(', ');

const PIN_SESSION_SQL = `set_config('extra_float_digits', '3', true)`;

/** Sets, for the current transaction, what the rendering of hashed columns depends on. */
export async function pinChainSession(tx: SqlClient): Promise<void> {
  await tx.query(`SELECT ${PIN_SESSION_SQL}`);
}

/** The hashed columns of a row read with HASHED_COLUMNS_SQL, keyed by column name. */
export function hashedColumnsOf(row: Readonly<Record<string, unknown>>): Record<string, string | null> {
  const columns: Record<string, string | null> = {};
  for (const name of [...HASHED_COLUMNS.map((c) => c.column), 'recorded_at']) {
    const value = row[`c_${name}`];
    columns[name] = value === null || value === undefined ? null : String(value);
  }
  return columns;
}

/** SHA-256 (hex) of a payload's RFC 8785 canonical JSON: what a tombstone keeps of a removed payload. */
export function payloadDigest(payload: unknown): string {
  return canonicalDigest(payload);
}

/** The record hash (SHA-256 hex of the JCS form of the content); the one place a hash is computed. */
export function recordHash(content: ChainContent): string {
  return canonicalDigest({
    v: CHAIN_VERSION,
    tenantId: content.tenantId,
    chainSeq: content.chainSeq,
    prevHash: content.prevHash,
    payloadDigest: content.payloadDigest,
    columns: content.columns,
  });
}

/** How insertChained may write. */
export interface ChainWriteOptions {
  /**
   * True when `tx` is a transaction on the database's only connection, which runs one
   * transaction at a time (PGlite), and the session was pinned once (pinChainSessionFor): no other
   * writer can move a chain head between the head read and the insert, so the per-tenant lock and
   * its statement are left out. Never true for a PostgreSQL server that several replicas write.
   */
  readonly soleWriter?: boolean;
}

/** Pins, for the whole session, what pinChainSession pins per transaction (a sole writer's connection). */
export async function pinChainSessionFor(session: SqlClient): Promise<void> {
  await session.query(`SELECT set_config('extra_float_digits', '3', false)`);
}

interface NormalisedRow extends Record<string, unknown> {
  head_seq: string | null;
  head_hash: string | null;
}

/**
 * Inserts an event as the next link of its tenant's chain, in a transaction of its own on
 * `client`, unless its tenant, source and id are already recorded: then nothing is written and
 * the chain does not advance. Resolves true once the row was inserted and committed.
 *
 * Replicas recording for one tenant at once are serialised by a transaction-scoped advisory lock
 * on the tenant, taken in a statement of its own before the head is read: under READ COMMITTED
 * the next statement's snapshot then sees the previous holder's committed link. The lock (rather
 * than a chain-head row locked FOR UPDATE) needs no extra table, adds no row update per event,
 * and other tenants never wait on it; UNIQUE (tenant_id, chain_seq) refuses a fork should a writer
 * ever skip the lock. PostgreSQL renders the values it will store (casts, rounding, time zones)
 * in the same statement that reads the head, so the hash covers exactly what the row holds.
 */
export async function insertChained(
  client: SqlClient,
  row: AuditInsertRow,
  options: ChainWriteOptions = {},
  attempt: ChainBatchAttempt = {},
): Promise<boolean> {
  return (
    (await chainTransaction(client, row.tenantId, options, (tx) => insertLinks(tx, [row], attempt))) === 1
  );
}

/**
 * A batch's rows were not all inserted (one was already recorded, or collided with a link written
 * without the lock): the links after it would not chain, so the whole transaction is rolled back
 * and the rows are to be inserted one at a time (insertChained), which skips duplicates.
 */
export class ChainBatchConflictError extends Error {
  constructor(inserted: number, rows: number) {
    super(
      `only ${inserted} of a batch of ${rows} audit rows were inserted; roll back and insert them one by one`,
    );
    this.name = 'ChainBatchConflictError';
  }
}

/**
 * What an insertChainedBatch call wrote before it failed: the record hash of every row, in order,
 * once the INSERT was sent. A hash covers the row's recorded_at (the clock when it was written),
 * so a stored row with it is the one this attempt wrote (see chainBatchCommitted).
 */
export interface ChainBatchAttempt {
  recordHashes?: readonly string[];
  /** Set true by the caller to have `links` filled in (the INSERT then returns each row's seq). */
  readonly wantsLinks?: boolean;
  /**
   * With `wantsLinks`, once the INSERT ran: each row's CommittedLink, in the rows' order, undefined
   * for a row not inserted (already recorded). Committed only once the transaction is.
   */
  links?: readonly (CommittedLink | undefined)[];
}

/**
 * Whether a batch whose commit was not confirmed (the connection was lost at COMMIT) was in
 * fact committed: its last row is stored with the hash that attempt computed. A transaction is
 * all or nothing, so the last row answers for all of them.
 */
export async function chainBatchCommitted(
  client: SqlClient,
  rows: readonly AuditInsertRow[],
  attempt: ChainBatchAttempt,
): Promise<boolean> {
  const hashes = attempt.recordHashes;
  const last = rows[rows.length - 1];
  if (hashes === undefined || last === undefined || hashes.length !== rows.length) return false;
  const { rows: found } = await client.query(
    `SELECT 1 FROM audit_events WHERE tenant_id = $1 AND source = $2 AND event_id = $3 AND record_hash = $4`,
    [last.tenantId, last.source, last.eventId, hashes[hashes.length - 1]],
  );
  return found.length > 0;
}

/** Rows per insertChainedBatch at most: 28 parameters each, far below PostgreSQL's 65,535. */
export const MAX_CHAIN_BATCH_ROWS = 64;

/**
 * Inserts several events of one tenant as consecutive links of its chain, in the order given, in
 * one transaction on `client` with the statements of one insertChained: the lock, one read of the
 * head and of every row's rendered values, one multi-row INSERT. Resolves once all are committed.
 * @throws ChainBatchConflictError when not every row was inserted (a duplicate): the transaction
 *   is rolled back, and the caller inserts the rows one by one.
 * @throws RangeError when the rows are not all of one tenant, or more than MAX_CHAIN_BATCH_ROWS.
 */
export async function insertChainedBatch(
  client: SqlClient,
  rows: readonly AuditInsertRow[],
  options: ChainWriteOptions = {},
  attempt: ChainBatchAttempt = {},
): Promise<void> {
  if (rows.length === 0) return;
  if (rows.length > MAX_CHAIN_BATCH_ROWS)
    throw new RangeError(`a chained batch holds ${MAX_CHAIN_BATCH_ROWS} rows at most, got ${rows.length}`);
  if (rows.some((r) => r.tenantId !== rows[0].tenantId))
    throw new RangeError(
      'a chained batch holds the rows of one tenant only (its chain is locked and read once)',
    );
  await chainTransaction(client, rows[0].tenantId, options, async (tx) => {
    const inserted = await insertLinks(tx, rows, attempt);
    if (inserted !== rows.length) throw new ChainBatchConflictError(inserted, rows.length);
  });
}

/**
 * Runs `work` in a transaction of `client` that holds the tenant's chain lock (none for a sole
 * writer), taken in a statement of its own before the head is read: under READ COMMITTED the next
 * statement's snapshot then sees the previous holder's committed link.
 */
function chainTransaction<T>(
  client: SqlClient,
  tenantId: string,
  options: ChainWriteOptions,
  work: (tx: SqlClient) => Promise<T>,
): Promise<T> {
  return client.transaction(async (tx) => {
    if (options.soleWriter !== true) {
      await tx.query(
        `SELECT ${PIN_SESSION_SQL}, pg_advisory_xact_lock(${CHAIN_LOCK_CLASS}, hashtext($1::text))`,
        [tenantId],
      );
    }
    return work(tx);
  });
}

/**
 * The one implementation of a chained insert, in a transaction holding the tenant's chain lock
 * (chainTransaction): read the head and the rendered values of every row in one statement, hash
 * the links in order, insert them in one statement (a row already recorded is skipped). Resolves
 * with the rows inserted.
 */
async function insertLinks(
  tx: SqlClient,
  rows: readonly AuditInsertRow[],
  attempt: ChainBatchAttempt = {},
): Promise<number> {
  const tenantId = rows[0].tenantId;
  const allValues = rows.map(insertValues);
  // $1 is the tenant; each row then has one parameter per hashed column.
  const params: unknown[] = [allValues[0][TENANT_PARAM]];
  const tuples = allValues.map((values, i) => {
    const first = params.length + 1;
    params.push(...HASHED_COLUMNS.map((c) => values[c.param]));
    const rendered_ = HASHED_COLUMNS.map((c, j) => rendered(`$${first + j}::${c.sqlType}`, c.render));
    return `(${i}, ${rendered_.join(', ')}, ${rendered('clock_timestamp()', 'time')})`;
  });
  const names = ['i', ...HASHED_COLUMNS.map((c) => `c_${c.column}`), 'c_recorded_at'];
  const { rows: normalised } = await tx.query<NormalisedRow & { i: number }>(
    `SELECT v.*, h.head_seq, h.head_hash
     FROM (VALUES ${tuples.join(', ')}) AS v(${names.join(', ')})
     LEFT JOIN LATERAL (
       SELECT chain_seq::text AS head_seq, record_hash AS head_hash FROM audit_events
       WHERE tenant_id = $1::text AND chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1
     ) AS h ON true
     ORDER BY v.i`,
    params,
  );
  let chainSeq = BigInt(normalised[0].head_seq ?? '0');
  let prevHash = normalised[0].head_hash ?? GENESIS_HASH;
  const insertParams: unknown[] = [];
  const hashes: string[] = [];
  const inserts = rows.map((row, i) => {
    const columns = hashedColumnsOf(normalised[i]);
    chainSeq += 1n;
    const seq = chainSeq.toString();
    const digest = payloadDigest(JSON.parse(row.payload) as unknown);
    const hash = recordHash({ tenantId, chainSeq: seq, prevHash, payloadDigest: digest, columns });
    const base = insertParams.length;
    insertParams.push(...allValues[i], columns['recorded_at'], seq, prevHash, hash, digest);
    prevHash = hash;
    hashes.push(hash);
    const p = (n: number) => `$${base + n}`;
    return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}, ${p(10)}, ${p(11)},
       ${p(12)}::bigint, ${p(13)}::timestamptz, ${p(14)}, ${p(15)}, ${p(16)}::jsonb, ${p(17)}, ${p(18)}, ${p(19)},
       ${p(20)}, ${p(21)}, ${p(22)}, ${p(23)}, ${p(24)}::timestamptz, ${p(25)}::bigint, ${p(26)}, ${p(27)}, ${p(28)})`;
  });
  attempt.recordHashes = hashes;
  const inserted = await tx.query(
    `INSERT INTO audit_events (event_id, tenant_id, correlation_id, causation_id, type, source, subject, spec_version,
       schema_version, topic, topic_partition, topic_offset, event_time, attempt, traceparent, payload,
       stage, model_id, prompt_tokens, completion_tokens, cost_usd, latency_ms, sanitised_reason,
       recorded_at, chain_seq, prev_hash, record_hash, payload_digest)
     VALUES ${inserts.join(', ')}
     ON CONFLICT (tenant_id, source, event_id) DO NOTHING
     RETURNING seq::text AS seq`,
    insertParams,
  );
  if (attempt.wantsLinks === true) {
    // The VALUES rows are inserted in their order, each taking the next seq: the i-th smallest seq
    // is the i-th row's. When some were skipped (already recorded), which ones is not told: then no
    // link is given (a batch is rolled back then anyway).
    const seqs = (inserted.rows as { seq: string }[])
      .map((r) => BigInt(r.seq))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    attempt.links = rows.map((_row, i) => {
      const eventTime = normalised[i].c_event_time;
      return seqs.length !== rows.length || typeof eventTime !== 'string'
        ? undefined
        : { seq: seqs[i], eventTime };
    });
  }
  return inserted.rows.length;
}
