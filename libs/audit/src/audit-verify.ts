import {
  GENESIS_HASH,
  HASHED_COLUMNS_SQL,
  hashedColumnsOf,
  payloadDigest,
  pinChainSession,
  recordHash,
} from './audit-chain';
import type { SqlClient } from './sql-client';

/** The first record of a tenant's chain that does not verify, and why. */
export interface ChainBreak {
  readonly tenantId: string;
  /** Position in the tenant's chain (absent for a row that has none). */
  readonly chainSeq?: string;
  /** Global recording order (audit_events.seq). */
  readonly seq: string;
  readonly eventId: string;
  readonly type: string;
  /** What differs, in words an operator can act on. */
  readonly problem: string;
}

/** The verification of one tenant's chain. */
export interface TenantChainReport {
  readonly tenantId: string;
  /** Chained records checked (up to the break, when there is one). */
  readonly verified: number;
  /** Rows recorded before the chain existed (migration 0004): not covered by it. */
  readonly beforeChain: number;
  /** Records whose payload the retention job replaced by a tombstone (still verified). */
  readonly payloadsRemoved: number;
  /** The last link verified: compare it with one noted earlier to detect a truncated tail. */
  readonly head?: { readonly chainSeq: string; readonly hash: string };
  readonly broken?: ChainBreak;
}

/** Options of verifyAuditChains. */
export interface VerifyOptions {
  /** Only this tenant's chain; every tenant's by default. */
  readonly tenantId?: string;
  /** Rows read per query (default 1,000). */
  readonly batchSize?: number;
}

interface ChainRow extends Record<string, unknown> {
  seq: string;
  chain_seq: string;
  event_id: string;
  type: string;
  prev_hash: string;
  record_hash: string;
  payload_digest: string;
  payload: unknown;
  removed: boolean;
}

const short = (hash: string | null | undefined) => (hash ? `${hash.slice(0, 12)}…` : String(hash));

function tombstoneDigest(payload: unknown): string | undefined {
  if (typeof payload === 'string') return tombstoneDigest(JSON.parse(payload) as unknown);
  const removed =
    typeof payload === 'object' && payload !== null
      ? (payload as Record<string, unknown>)['removedPayload']
      : undefined;
  const digest =
    typeof removed === 'object' && removed !== null
      ? (removed as Record<string, unknown>)['digest']
      : undefined;
  return typeof digest === 'string' ? digest : undefined;
}

/** What is wrong with a row given the previous link, or undefined when it verifies. */
function problemOf(
  row: ChainRow,
  tenantId: string,
  expectedSeq: bigint,
  prevHash: string,
): string | undefined {
  const seq = BigInt(row.chain_seq);
  if (seq !== expectedSeq) {
    return expectedSeq === 1n
      ? `the chain starts at #${row.chain_seq}, not #1: the records before it are missing (deleted?)`
      : `#${row.chain_seq} follows #${expectedSeq - 1n}: record(s) #${expectedSeq}..#${seq - 1n} are missing (deleted?)`;
  }
  if (row.prev_hash !== prevHash) {
    return `prev_hash ${short(row.prev_hash)} is not the hash of the previous record (${short(prevHash)}): the link was altered or a record replaced`;
  }
  if (row.removed) {
    const digest = tombstoneDigest(row.payload);
    if (digest !== row.payload_digest)
      return `the tombstone's digest ${short(digest)} differs from the recorded payload digest ${short(row.payload_digest)}`;
  } else {
    const payload = typeof row.payload === 'string' ? (JSON.parse(row.payload) as unknown) : row.payload;
    const digest = payloadDigest(payload);
    if (digest !== row.payload_digest)
      return `the payload differs from its recorded digest (now ${short(digest)}, recorded ${short(row.payload_digest)}): the payload was altered`;
  }
  const hash = recordHash({
    tenantId,
    chainSeq: row.chain_seq,
    prevHash: row.prev_hash,
    payloadDigest: row.payload_digest,
    columns: hashedColumnsOf(row),
  });
  if (hash !== row.record_hash) {
    return `the record hash recomputed from the stored columns (${short(hash)}) differs from the stored one (${short(row.record_hash)}): a column of the record (ids, type, source, times, position, usage) or its hash was altered`;
  }
  return undefined;
}

async function verifyTenant(
  client: SqlClient,
  tenantId: string,
  batchSize: number,
): Promise<TenantChainReport> {
  const counts = await client.query<{
    before_chain: number;
    removed: number;
    stray_seq: string | null;
    stray_id: string | null;
    stray_type: string | null;
  }>(
    `WITH start AS (SELECT min(seq) AS first FROM audit_events WHERE tenant_id = $1 AND chain_seq IS NOT NULL),
     stray AS (
       SELECT seq::text AS stray_seq, event_id AS stray_id, type AS stray_type FROM audit_events, start
       WHERE tenant_id = $1 AND chain_seq IS NULL AND seq > start.first ORDER BY seq LIMIT 1
     )
     SELECT (SELECT count(*)::int FROM audit_events, start
               WHERE tenant_id = $1 AND chain_seq IS NULL AND (start.first IS NULL OR seq < start.first)) AS before_chain,
            (SELECT count(*)::int FROM audit_events WHERE tenant_id = $1 AND payload_removed_at IS NOT NULL) AS removed,
            stray.*
     FROM (SELECT 1) AS one LEFT JOIN stray ON true`,
    [tenantId],
  );
  const {
    before_chain: beforeChain,
    removed: payloadsRemoved,
    stray_seq,
    stray_id,
    stray_type,
  } = counts.rows[0];
  let verified = 0;
  let expectedSeq = 1n;
  let prevHash = GENESIS_HASH;
  let head: TenantChainReport['head'];
  const report = (broken?: ChainBreak): TenantChainReport => ({
    tenantId,
    verified,
    beforeChain,
    payloadsRemoved,
    ...(head && { head }),
    ...(broken && { broken }),
  });
  for (;;) {
    const rows = await client.transaction(async (tx) => {
      await pinChainSession(tx);
      const page = await tx.query<ChainRow>(
        `SELECT seq::text AS seq, chain_seq::text AS chain_seq, event_id, type, prev_hash, record_hash, payload_digest,
           payload, payload_removed_at IS NOT NULL AS removed, ${HASHED_COLUMNS_SQL}
         FROM audit_events
         WHERE tenant_id = $1 AND chain_seq >= $2::bigint
         ORDER BY audit_events.chain_seq LIMIT $3`,
        [tenantId, expectedSeq.toString(), batchSize],
      );
      return page.rows;
    });
    for (const row of rows) {
      const problem = problemOf(row, tenantId, expectedSeq, prevHash);
      if (problem !== undefined) {
        return report({
          tenantId,
          chainSeq: row.chain_seq,
          seq: row.seq,
          eventId: row.event_id,
          type: row.type,
          problem,
        });
      }
      verified++;
      expectedSeq = BigInt(row.chain_seq) + 1n;
      prevHash = row.record_hash;
      head = { chainSeq: row.chain_seq, hash: row.record_hash };
    }
    if (rows.length < batchSize) break;
  }
  if (stray_seq !== null && stray_id !== null && stray_type !== null) {
    return report({
      tenantId,
      seq: stray_seq,
      eventId: stray_id,
      type: stray_type,
      problem:
        'recorded without a chain link after the chain began: inserted around the store (the database refuses this to writers that keep its constraints)',
    });
  }
  return report();
}

/**
 * Recomputes tenants' hash chains from the stored rows, in chain order, and reports per tenant
 * how many records verify and the first that does not (missing position, broken link, payload
 * not matching its digest, or columns not matching the record hash). Reads only.
 */
export async function verifyAuditChains(
  client: SqlClient,
  options: VerifyOptions = {},
): Promise<readonly TenantChainReport[]> {
  const batchSize = options.batchSize ?? 1_000;
  const tenants =
    options.tenantId !== undefined
      ? [options.tenantId]
      : (
          await client.query<{ tenant_id: string }>(
            'SELECT DISTINCT tenant_id FROM audit_events ORDER BY tenant_id',
          )
        ).rows.map((r) => r.tenant_id);
  const reports: TenantChainReport[] = [];
  for (const tenantId of tenants) reports.push(await verifyTenant(client, tenantId, batchSize));
  return reports;
}
