/** SQLSTATE of a PostgreSQL error (`pg` and PGlite both put it on `code`), or undefined. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * True when PostgreSQL refused a write because of the data itself, so the same write can never
 * succeed; false for outages and anything else, which may succeed when retried.
 *
 * By SQLSTATE class (PostgreSQL manual, Appendix A "PostgreSQL Error Codes",
 * https://www.postgresql.org/docs/current/errcodes-appendix.html):
 * - permanent: class 22 "data exception" (22021 U+0000 in text, 22P05 `\u0000` in jsonb,
 *   22P02 a lone surrogate escape in jsonb, 22003 a number out of its column's range, ...) and
 *   class 23 "integrity constraint violation", except 23505 unique_violation, which a concurrent
 *   insert of the same key causes and a retry resolves (ON CONFLICT then applies);
 * - transient: class 08 connection exception, 40 transaction rollback (serialization failure,
 *   deadlock), 53 insufficient resources, 57 operator intervention (shutdown, cannot connect now),
 *   and errors without a SQLSTATE (ECONNREFUSED, ECONNRESET, timeouts, a closed PGlite);
 * - any other class (42 from a missing migration, XX internal) points at the deployment, not the
 *   event, and is treated as transient so the event is recorded once the cause is fixed.
 */
export function isPermanentDataError(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state === undefined) return false;
  const errorClass = state.slice(0, 2);
  return errorClass === '22' || (errorClass === '23' && state !== '23505');
}

/**
 * The audit store refused an event for good: PostgreSQL rejected it as received and again as a
 * storable copy (text sanitised, derived columns dropped). Retrying cannot help; the caller must
 * set the event aside (the auditor dead-letters it) rather than block its partition.
 */
export class AuditDataError extends Error {
  readonly code = 'unstorable_event';

  constructor(
    readonly eventId: string,
    /** SQLSTATE of the last refusal, e.g. `22008`. */
    readonly sqlState: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AuditDataError';
  }
}
