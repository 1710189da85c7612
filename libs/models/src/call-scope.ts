import type { ModelUsage } from './model-provider';
import { ModelError } from './model-error';
import { computeCostUsd, type ModelEntry } from './registry/model-registry';

export interface CallScopeOptions {
  readonly provider: string;
  readonly modelId: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Names the setting that raises the timeout, for the error message. */
  readonly timeoutHint: string;
}

/**
 * One model call's deadline and cancellation, merged into a single signal whose `reason` is always
 * a ModelError (`timeout` or `aborted`), so adapters can rethrow it as is.
 */
export class CallScope {
  readonly startedAt = performance.now();
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort: () => void;

  constructor(private readonly options: CallScopeOptions) {
    this.timer = setTimeout(() => {
      this.controller.abort(
        new ModelError(
          'timeout',
          `${options.provider} model ${options.modelId} did not answer within ${options.timeoutMs} ms; ` +
            `raise the request's timeoutMs or ${options.timeoutHint}, or send a shorter request`,
          { provider: options.provider, modelId: options.modelId },
        ),
      );
    }, options.timeoutMs);
    this.onCallerAbort = () => this.controller.abort(this.callerAbortError(options.signal?.reason));
    if (options.signal?.aborted) this.onCallerAbort();
    else options.signal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Milliseconds since the call started. */
  elapsedMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  /** This call's accounting: tokens, their cost at the entry's prices, and the time so far. */
  usage(entry: ModelEntry, promptTokens: number, completionTokens: number): ModelUsage {
    return {
      modelId: entry.id,
      provider: this.options.provider,
      promptTokens,
      completionTokens,
      costUsd: computeCostUsd(entry, promptTokens, completionTokens),
      latencyMs: this.elapsedMs(),
    };
  }

  /** Throws the abort reason when the call was cancelled or timed out. */
  throwIfAborted(): void {
    if (this.controller.signal.aborted) throw this.abortReason();
  }

  /** The ModelError the call was aborted with (only meaningful once `signal.aborted`). */
  abortReason(): ModelError {
    const reason: unknown = this.controller.signal.reason;
    return reason instanceof ModelError ? reason : this.callerAbortError(reason);
  }

  /** Clears the timer and listeners; call once the call has settled. */
  dispose(): void {
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this.onCallerAbort);
  }

  private callerAbortError(reason: unknown): ModelError {
    const { provider, modelId } = this.options;
    if (reason instanceof ModelError) return reason;
    if (reason instanceof Error && reason.name === 'TimeoutError') {
      return new ModelError(
        'timeout',
        `the caller's signal timed out the call to ${provider} model ${modelId}`,
        {
          provider,
          modelId,
          cause: reason,
        },
      );
    }
    return new ModelError('aborted', `the caller aborted the call to ${provider} model ${modelId}`, {
      provider,
      modelId,
      cause: reason,
    });
  }
}
