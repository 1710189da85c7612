import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { assertAuditSchemaName } from './migrations';
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
      // A checked-out client has no 'error' listener of the pool's: when the server ends the
      // session between two statements, or after the error of the statement it interrupted
      // (pg_terminate_backend, a restart), the client emits 'error', which unheard ends the
      // process. The statement in progress rejects on its own; the connection is then dropped.
      let lost: unknown;
      const onError = (error: unknown) => {
        lost ??= error;
      };
      connection.on('error', onError);
      try {
        await connection.query('BEGIN');
        const value = await work(clientOf(connection));
        await connection.query('COMMIT');
        return value;
      } catch (error) {
        await connection.query('ROLLBACK').catch((rollback: unknown) => {
          lost ??= rollback;
        });
        throw error;
      } finally {
        connection.removeListener('error', onError);
        // Passing an error makes the pool close the connection rather than lend it again.
        connection.release(lost === undefined ? undefined : asError(lost));
      }
    },
  };
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
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
    const store = new PostgresAuditStore(
      newPool(options.connectionString, options.maxConnections ?? 10, sessionSettings(options.schema)),
      options.schema,
    );
    try {
      await store.migrate();
    } catch (error) {
      await store.pool.end();
      throw error;
    }
    return store;
  }

  /**
   * The store for reading only (request statuses served by the router). Applies no migrations
   * and connects on the first query, so SELECT on `audit_events` (and USAGE on its schema) is the
   * only privilege it needs, and it opens while the database is down: queries then reject until
   * it answers. Sessions are read-only (`default_transaction_read_only`), so even a privileged URL
   * cannot write through it. Queries give up after `timeoutMs` (default 5,000 ms).
   */
  static reader(options: PostgresAuditStoreOptions & { readonly timeoutMs?: number }): PostgresAuditStore {
    const timeoutMs = options.timeoutMs ?? 5_000;
    const settings = [
      ...sessionSettings(options.schema),
      'default_transaction_read_only=on',
      `statement_timeout=${timeoutMs}`,
    ];
    const pool = newPool(options.connectionString, options.maxConnections ?? 5, settings, {
      connectionTimeoutMillis: timeoutMs,
      // Client side too: a database that stopped answering mid-query must not hold a request open.
      query_timeout: 2 * timeoutMs,
    });
    return new PostgresAuditStore(pool, options.schema);
  }
}

// Every connection resolves table names in the audit schema, tests' throwaway schemas included.
// The name is checked first: it goes into the startup options, where a space would add settings.
function sessionSettings(schema: string | undefined): string[] {
  if (schema === undefined) return [];
  assertAuditSchemaName(schema);
  return [`search_path=${schema}`];
}

function newPool(
  connectionString: string,
  max: number,
  settings: readonly string[],
  extra: Partial<PoolConfig> = {},
): Pool {
  const pool = new Pool({
    connectionString,
    max,
    ...(settings.length > 0 && { options: settings.map((s) => `-c ${s}`).join(' ') }),
    ...extra,
  });
  // An idle client that loses its connection emits 'error'; unhandled, it would end the process.
  pool.on('error', () => undefined);
  return pool;
}
