/** The little of a Postgres client the audit store needs; both adapters provide it. */
export interface SqlClient {
  /** One statement with `$n` parameters. */
  query<R>(text: string, params?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /** A script of several statements, without parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Runs `work` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
}
