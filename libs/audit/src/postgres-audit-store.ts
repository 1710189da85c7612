import { Pool, type PoolClient, type PoolConfig } from 'pg';
import type { SqlClient } from './sql-client';
import { SqlAuditStore } from './sql-audit-store';

export interface PostgresAuditStoreOptions {
  /** `postgres://user:password@host:port/database` (DATABASE_URL). */
  readonly connectionString: string;
  /** Schema for the audit tables; created when missing. Defaults to the connection's search_path. */
  readonly schema?: string;
  readonly maxConnections?: number;
}

function clientOf(run: Pool | PoolClient): SqlClient {
  return {
    query: async <R>(text: string, params: readonly unknown[] = []) => {
      const result = await run.query(text, [...params]);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
    exec: async (script: string) => {
      await run.query(script);
    },
    transaction: async <T>(work: (tx: SqlClient) => Promise<T>): Promise<T> => {
      if (!(run instanceof Pool)) return work(clientOf(run));
      const connection = await run.connect();
      try {
        await connection.query('BEGIN');
        const value = await work(clientOf(connection));
        await connection.query('COMMIT');
        return value;
      } catch (error) {
        await connection.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        connection.release();
      }
    },
  };
}

/** The audit store on PostgreSQL (distributed mode), through a `pg` connection pool. */
export class PostgresAuditStore extends SqlAuditStore {
  private constructor(
    readonly pool: Pool,
    schema: string | undefined,
  ) {
    super(clientOf(pool), () => pool.end(), schema);
  }

  /** Connects, applies pending migrations, and resolves with a ready store. */
  static async open(options: PostgresAuditStoreOptions): Promise<PostgresAuditStore> {
    const config: PoolConfig = {
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      // Every connection resolves table names in the audit schema, tests' throwaway schemas included.
      ...(options.schema !== undefined && { options: `-c search_path=${options.schema}` }),
    };
    const pool = new Pool(config);
    // An idle client that loses its connection emits 'error'; unhandled, it would end the process.
    pool.on('error', () => undefined);
    const store = new PostgresAuditStore(pool, options.schema);
    try {
      await store.migrate();
    } catch (error) {
      await pool.end();
      throw error;
    }
    return store;
  }
}
