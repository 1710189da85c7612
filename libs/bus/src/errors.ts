import type { FailureCode } from '@llmbus/contracts';

/**
 * The event cannot be processed, and retrying will not change that (bad input, unknown workflow).
 * The bus dead-letters it and tells the requester, with `message` saying what to fix.
 */
export class EventRejectedError extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'EventRejectedError';
  }
}

/** True when an error says of itself that a later attempt may succeed (e.g. a model 429). */
export function isRetryable(error: unknown): boolean {
  if (error instanceof EventRejectedError) return false;
  if (typeof error === 'object' && error !== null && 'retryable' in error) {
    return (error as { retryable: unknown }).retryable === true;
  }
  // Unknown errors get the bounded retries: a store blip looks like this too.
  return true;
}
