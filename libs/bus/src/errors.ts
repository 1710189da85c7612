import { FailureCode, isTerminalError, TerminalError } from '@llmbus/contracts';

/**
 * The event cannot be processed, and retrying will not change that (bad input, an untrusted
 * source). The bus dead-letters it and tells the requester, with `message` saying what to fix.
 * A handler may throw any TerminalError to the same effect; this one names the bus's own use.
 */
export class EventRejectedError extends TerminalError {
  /**
   * False when the dead-letter record alone must say it: no RequestFailed is published, e.g. when
   * one keyed by the event's request id would read as the outcome of another request with that id.
   */
  readonly notifyRequester: boolean;

  constructor(
    code: FailureCode,
    message: string,
    details: readonly string[] = [],
    options: { readonly notifyRequester?: boolean } = {},
  ) {
    super(code, message, details);
    this.name = 'EventRejectedError';
    this.notifyRequester = options.notifyRequester ?? true;
  }
}

/** True when an error says of itself that a later attempt may succeed (e.g. a model 429). */
export function isRetryable(error: unknown): boolean {
  if (isTerminalError(error)) return false;
  if (typeof error === 'object' && error !== null && 'retryable' in error) {
    return (error as { retryable: unknown }).retryable === true;
  }
  // Unknown errors get the bounded retries: a store blip looks like this too.
  return true;
}

/**
 * Not an error of the message: it is not due yet. A handler rejects with this so that the
 * transport pauses the message's partition for `delayMs` milliseconds and then delivers the same
 * message again, committing nothing and logging nothing (delayed retry topics use it).
 */
export class DeliveryDeferredError extends Error {
  constructor(readonly delayMs: number) {
    super(`delivery deferred by ${delayMs} ms`);
    this.name = 'DeliveryDeferredError';
  }
}
