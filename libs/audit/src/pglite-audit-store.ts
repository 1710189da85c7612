import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { pinChainSessionFor } from './audit-chain';
import { insertChainedSoleWriterBatch, MAX_CHAIN_BATCH } from './audit-chain-batch';
import type { AuditInsertRow } from './audit-insert-row';
import { PglitePreparedStatements } from './pglite-prepared';
import { REQUEST_STATUS_SQL } from './request-status';
import type { SqlClient } from './sql-client';
import { SqlAuditStore } from './sql-audit-store';

export interface PgliteAuditStoreOptions {
  /**
   * The platform data directory (LLMBUS_DATA_DIR); the audit database lives in its `audit`
   * folder. Without it the database is in memory and gone when the process ends.
   */
  readonly dataDir?: string;
}

function clientOf(run: PGlite | Transaction, prepared?: PglitePreparedStatements): SqlClient {
  return {
    query: async <R>(text: string, params: readonly unknown[] = []) => {
      const result =
        prepared?.handles(text) === true
          ? await prepared.query<R>(text, params)
          : await run.query<R>(text, [...params]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    exec: async (script: string) => {
      await run.exec(script);
    },
    transaction: async <T>(work: (tx: SqlClient) => Promise<T>): Promise<T> =>
      run instanceof PGlite ? run.transaction((tx) => work(clientOf(tx))) : work(clientOf(run)),
  };
}

interface PendingInsert {
  readonly row: AuditInsertRow;
  readonly resolve: (recorded: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** The audit store on PGlite: Postgres compiled to WASM, in-process, for embedded mode. */
export class PgliteAuditStore extends SqlAuditStore {
  /** Rows waiting while a transaction of earlier ones runs (PGlite runs one at a time). */
  private readonly pending: PendingInsert[] = [];
  private flushing = false;

  private constructor(readonly db: PGlite) {
    // PGlite is one connection that runs one transaction at a time, and this store is its only
    // writer: a chain head cannot move between its read and the insert, so no lock is taken.
    super(clientOf(db, new PglitePreparedStatements(db, [REQUEST_STATUS_SQL])), () => db.close(), undefined, {
      soleWriter: true,
    });
  }

  /**
   * Rows arriving in the same turn of the event loop, or while an insert runs (the auditor
   * records the events of several partitions at once), go in together: one transaction of two
   * statements for the lot instead of a transaction of two statements each (7 events of a request
   * in the embedded bench: about 1.05 transactions instead of 5), every row still its tenant's
   * next link in arrival order.
   * A batch that meets an already recorded row, or an error, is rolled back and its rows inserted
   * one at a time, so each caller gets its own answer or error (see SqlAuditStore.record).
   */
  protected override insert(row: AuditInsertRow): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (this.flushing) return;
      this.flushing = true;
      // One turn of the event loop first: events published together (a stage's outputs) reach
      // the auditor's partitions in the same turn and go in together.
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.insertBatch(this.pending.splice(0, MAX_CHAIN_BATCH));
    } finally {
      this.flushing = false;
    }
  }

  private async insertBatch(batch: readonly PendingInsert[]): Promise<void> {
    if (batch.length > 1) {
      const rows = batch.map((pending) => pending.row);
      const all = await this.db
        .transaction(async (tx) => {
          const inserted = await insertChainedSoleWriterBatch(clientOf(tx), rows);
          if (!inserted) await tx.rollback();
          return inserted;
        })
        .catch(() => false); // one at a time below: each row's own error goes to its caller
      if (all) {
        for (const pending of batch) pending.resolve(true);
        return;
      }
    }
    for (const pending of batch) {
      try {
        pending.resolve(await super.insert(pending.row));
      } catch (error) {
        pending.reject(error);
      }
    }
  }

  /** Opens (or creates) the database, applies pending migrations, and resolves with a ready store. */
  static async open(options: PgliteAuditStoreOptions = {}): Promise<PgliteAuditStore> {
    let dataDir: string | undefined;
    if (options.dataDir !== undefined) {
      dataDir = join(options.dataDir, 'audit');
      // PGlite creates only the last directory of the path.
      await mkdir(dataDir, { recursive: true });
    }
    const db = await PGlite.create(dataDir === undefined ? {} : { dataDir });
    const store = new PgliteAuditStore(db);
    try {
      await store.migrate();
      await pinChainSessionFor(store.client);
    } catch (error) {
      await db.close();
      throw error;
    }
    return store;
  }
}
