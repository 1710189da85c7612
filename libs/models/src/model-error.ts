import type { ModelUsage } from './model-provider';

export const MODEL_ERROR_CODES = [
  'rate_limited',
  'timeout',
  'unavailable',
  'bad_request',
  'content_filtered',
  'malformed_output',
  'aborted',
] as const;

export type ModelErrorCode = (typeof MODEL_ERROR_CODES)[number];

// What a caller should do by default; a single error can override it (an exhausted quota is
// `rate_limited` yet not retryable, a missing local model file is `unavailable` yet not retryable).
const RETRYABLE_BY_DEFAULT: Readonly<Record<ModelErrorCode, boolean>> = {
  rate_limited: true,
  timeout: true,
  unavailable: true,
  bad_request: false,
  content_filtered: false,
  // Sampling again (or a stricter prompt) can produce valid output.
  malformed_output: true,
  aborted: false,
};

export interface ModelErrorOptions {
  readonly retryable?: boolean;
  readonly provider?: string;
  readonly modelId?: string;
  /** HTTP status of the upstream response, when there was one. */
  readonly status?: number;
  /** Milliseconds the upstream asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs?: number;
  /**
   * What the call cost when the provider answered (and billed) but the answer was unusable
   * (`malformed_output`): callers record it instead of a call of zero tokens.
   */
  readonly usage?: ModelUsage;
  readonly cause?: unknown;
}

/** The only error type a ModelProvider throws: a machine-readable code plus a message saying what to fix. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  readonly retryable: boolean;
  readonly provider?: string;
  readonly modelId?: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** The billed usage of an answered call whose answer was unusable; see ModelErrorOptions.usage. */
  readonly usage?: ModelUsage;

  constructor(
    readonly code: ModelErrorCode,
    message: string,
    options: ModelErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT[code];
    this.provider = options.provider;
    this.modelId = options.modelId;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.usage = options.usage;
  }

  /** This error with the billed usage of the call attached (a copy; the original is left as is). */
  withUsage(usage: ModelUsage): ModelError {
    return new ModelError(this.code, this.message, {
      retryable: this.retryable,
      provider: this.provider,
      modelId: this.modelId,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      usage,
      cause: this.cause,
    });
  }

  /** JSON-safe form for logs and failure events. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      provider: this.provider,
      modelId: this.modelId,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      usage: this.usage,
    };
  }
}

/** True when `error` is a ModelError (optionally with the given code). */
export function isModelError(error: unknown, code?: ModelErrorCode): error is ModelError {
  return error instanceof ModelError && (code === undefined || error.code === code);
}

/** Whether a caller should retry after `error`: only ModelErrors flagged retryable qualify. */
export function isRetryableModelError(error: unknown): boolean {
  return error instanceof ModelError && error.retryable;
}
