import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { PglitePreparedStatements } from '@llmbus/pglite';
import { pinChainSessionFor } from './audit-chain';
import type { SqlClient } from './sql-client';
import { SqlAuditStore } from './sql-audit-store';
import { RecordedStatuses } from './recorded-statuses';
import { PglitePlannerStatistics } from './pglite-planner-statistics';

export interface PgliteAuditStoreOptions {
  /**
   * The platform data directory (LLMBUS_DATA_DIR); the audit database lives in its `audit`
   * folder. Without it the database is in memory and gone when the process ends.
   */
  readonly dataDir?: string;
}

/**
 * PGlite's start parameters for a database in memory: PostgreSQL's own defaults but for
 * `wal_init_zero`. Each new 16 MB WAL segment is otherwise filled with zeros first, which the
 * in-memory file system does by growing the file 1 MB at a time, copying it at each step (bench
 * --embedded: 450 ms of CPU per segment, about one per 460 requests; 59 ms → 2.5 ms per segment
 * in one process). Zero-filling reserves disk space before WAL is written, which memory has no
 * use for; a database on a data directory keeps it.
 */
const IN_MEMORY_START_PARAMS: readonly string[] = [...PGlite.defaultStartParams, '-c', 'wal_init_zero=off'];

/** A read: one SELECT (or WITH … SELECT) that writes no row, so it needs no flush to the data directory. */
const READ_ONLY_SQL = /^\s*(?:SELECT|WITH)\b(?![\s\S]*\b(?:INSERT|UPDATE|DELETE|MERGE)\b)/i;

/**
 * The store's SQL client on `run`. With `prepared`, reads outside a transaction and every
 * statement of a transaction run as named prepared statements, parsed and analysed once per
 * connection: the chain's head read and insert, the request-status, request-id and event reads
 * cost about as much to parse and plan as to run, once per request each. A write outside a
 * transaction runs through `query` (which flushes a data directory after it); a transaction
 * flushes on its commit either way.
 */
function clientOf(run: PGlite | Transaction, prepared?: PglitePreparedStatements): SqlClient {
  const inTransaction = !(run instanceof PGlite);
  return {
    query: async <R>(text: string, params: readonly unknown[] = []) => {
      const result =
        prepared === undefined
          ? await run.query<R>(text, [...params])
          : inTransaction
            ? await prepared.queryInTransaction<R>(text, params)
            : READ_ONLY_SQL.test(text)
              ? await prepared.query<R>(text, params)
              : await run.query<R>(text, [...params]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    exec: async (script: string) => {
      await run.exec(script);
    },
    transaction: async <T>(work: (tx: SqlClient) => Promise<T>): Promise<T> =>
      run instanceof PGlite
        ? run.transaction((tx) => work(clientOf(tx, prepared)))
        : work(clientOf(run, prepared)),
  };
}

/** The audit store on PGlite: Postgres compiled to WASM, in-process, for embedded mode. */
export class PgliteAuditStore extends SqlAuditStore {
  // In embedded mode the stages publish in process: a stage's outputs reach the auditor in the
  // same turn, and waiting for them puts a request's events in about one transaction (bench
  // --embedded: 204 audit transactions for 200 requests, 640 without the wait).
  protected override readonly gathersFirstBatch = true;
  // The sole writer sees every row committed: statuses of the requests it records from their first
  // event are answered from memory (bench --embedded: two trail reads per long poll before).
  protected override readonly recordedStatuses = new RecordedStatuses();

  /**
   * ANALYZE audit_events as rows are recorded (PGlite runs no autovacuum): see
   * PglitePlannerStatistics. Set once the store opened.
   */
  plannerStatistics?: PglitePlannerStatistics;

  private constructor(readonly db: PGlite) {
    // PGlite is one connection that runs one transaction at a time, and this store is its only
    // writer: a chain head cannot move between its read and the insert, so no lock is taken.
    super(clientOf(db, new PglitePreparedStatements(db)), () => db.close(), undefined, {
      soleWriter: true,
    });
  }

  /** Waits for a running ANALYZE, then closes the database. */
  override async close(): Promise<void> {
    await this.plannerStatistics?.settled();
    await super.close();
  }

  /** Opens (or creates) the database, applies pending migrations, and resolves with a ready store. */
  static async open(options: PgliteAuditStoreOptions = {}): Promise<PgliteAuditStore> {
    let dataDir: string | undefined;
    if (options.dataDir !== undefined) {
      dataDir = join(options.dataDir, 'audit');
      // PGlite creates only the last directory of the path.
      await mkdir(dataDir, { recursive: true });
    }
    const db = await PGlite.create(
      dataDir === undefined ? { startParams: [...IN_MEMORY_START_PARAMS] } : { dataDir },
    );
    const store = new PgliteAuditStore(db);
    try {
      await store.migrate();
      await pinChainSessionFor(store.client);
      const { rows } = await store.client.query('SELECT 1 FROM audit_events LIMIT 1');
      if (rows.length === 0) store.recordedStatuses.trailEmptyAtStart();
      const { rows: sized } = await store.client.query<{ rows: number }>(
        `SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'audit_events'::regclass`,
      );
      const statistics = new PglitePlannerStatistics(async () => {
        // The columns the store's statements filter, join or sort on (those of its indexes, and
        // recorded_at for retention): half the cost of analysing the payloads too.
        await db.query(
          'ANALYZE audit_events (tenant_id, event_id, source, correlation_id, type, event_time, seq, chain_seq, recorded_at)',
        );
      }, sized[0]?.rows ?? 0);
      store.plannerStatistics = statistics;
      store.onRecorded(() => statistics.rowsWritten(1));
    } catch (error) {
      await db.close();
      throw error;
    }
    return store;
  }
}
