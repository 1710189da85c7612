import { FAILURE_CODES, FailureCode } from './events/request-failed';

/** Marks terminal errors across copies of this module (a bundle or test runner may load two). */
const TERMINAL = Symbol.for('llmbus.terminal-error');

/**
 * A failure no retry can cure (bad input, an unknown workflow, a budget the call would exceed),
 * carrying the RequestFailed `code` it ends the request with and a message saying what to fix.
 * The bus never retries it (`retryable` is false, the way any error says whether it may pass) and
 * turns it into a dead-letter record and a RequestFailed with `code`, `message` and `details`.
 * Domain libraries throw it (or a subclass) directly; stages need not translate it.
 */
export class TerminalError extends Error {
  readonly retryable = false;
  readonly [TERMINAL] = true;

  constructor(
    readonly code: FailureCode,
    message: string,
    /** One entry per problem, e.g. `input.priority: must be one of low, high`. */
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'TerminalError';
  }
}

/** True for a TerminalError (or subclass), also one created by another copy of this module. */
export function isTerminalError(error: unknown): error is TerminalError {
  return (
    error instanceof Error &&
    (error as unknown as Record<symbol, unknown>)[TERMINAL] === true &&
    FAILURE_CODES.includes((error as { code?: unknown }).code as FailureCode)
  );
}
