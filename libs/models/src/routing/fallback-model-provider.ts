import {
  BrokenCircuitError,
  CircuitBreakerPolicy,
  circuitBreaker,
  ConsecutiveBreaker,
  handleWhen,
} from 'cockatiel';
import { isModelError, ModelError, type ModelErrorCode } from '../model-error';
import type {
  ChatRequest,
  ChatResponse,
  EmbedOptions,
  EmbedResponse,
  ModelProvider,
  ModelTokenCounter,
} from '../model-provider';
import {
  toStorableText,
  truncateText,
  type FailedModelAttempt,
  type FallbackFailureCode,
} from '@llmbus/contracts';
import type { ModelsLogger } from '../models-logger';
import type { ModelEntry, ModelRegistry } from '../registry/model-registry';

/** Failures that say "this model cannot answer now", so the next model in the list may. */
const MOVES_ON: ReadonlySet<ModelErrorCode> = new Set(['unavailable', 'rate_limited', 'timeout']);

export interface FallbackModelProviderOptions {
  readonly registry: ModelRegistry;
  /** The provider that serves an entry, or undefined when none in this process does (the entry is skipped). */
  readonly providerFor: (entry: ModelEntry) => ModelProvider | undefined;
  /** Used when a chat request names no model. */
  readonly defaultChatModel: ModelEntry;
  /** Consecutive moving-on failures after which a model is skipped for `coolDownMs`. Default 5. */
  readonly failureThreshold?: number;
  /** How long a model whose circuit opened is skipped before one trial call. Default 30,000 ms. */
  readonly coolDownMs?: number;
  /** Milliseconds since the epoch; tests pass a scripted clock. Default Date.now. */
  readonly now?: () => number;
  readonly logger?: ModelsLogger;
  /** Serves `embed`; the default chat model's provider when omitted. */
  readonly embeddings?: ModelProvider;
}

/**
 * Chat with fallbacks: a request for model M goes to M, then to each of M's registry `fallbacks`
 * in order, moving on only when the model is `unavailable`, `rate_limited` or timed out (any other
 * error is the request's and is thrown as is). A model failing `failureThreshold` times in a row is
 * skipped for `coolDownMs` (cockatiel's circuit breaker, one per model), and a model that answered
 * `rate_limited` with a Retry-After is skipped until that time. When every model is skipped or
 * fails, the last error is thrown (`rate_limited` with the earliest Retry-After when all are
 * waiting), so the caller's own retry can wait that long. Embeddings and everything else go to the
 * default model's provider unchanged.
 */
export class FallbackModelProvider implements ModelProvider {
  readonly name: string;
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();
  /** Model id → epoch ms before which it asked not to be called (Retry-After). */
  private readonly waitUntil = new Map<string, number>();

  constructor(private readonly options: FallbackModelProviderOptions) {
    this.name = this.primaryProvider().name;
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    const first = this.options.registry.get(request.model ?? this.options.defaultChatModel.id);
    const chain = [first, ...(first.fallbacks ?? []).map((id) => this.options.registry.get(id))];
    const now = this.options.now ?? Date.now;
    let lastError: ModelError | undefined;
    let earliestRetry: number | undefined;
    // Every model that did not answer before the one that did, for the trail.
    const failed: FailedModelAttempt[] = [];
    for (const entry of chain) {
      const provider = this.options.providerFor(entry);
      if (provider === undefined) continue;
      const until = this.waitUntil.get(entry.id);
      if (until !== undefined && until > now()) {
        earliestRetry = Math.min(earliestRetry ?? until, until);
        failed.push(
          attempt(entry.id, provider.name, 'rate_limited', 0, 'skipped until its Retry-After', true),
        );
        continue;
      }
      const started = now();
      try {
        const response = await this.breaker(entry.id).execute(() =>
          provider.chat({ ...request, model: entry.id }),
        );
        return failed.length === 0
          ? response
          : { ...response, usage: { ...response.usage, fallbackAttempts: failed.slice(-16) } };
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          lastError = new ModelError(
            'unavailable',
            `${entry.id} is skipped for a cool-down after repeated failures`,
            { modelId: entry.id, provider: provider.name },
          );
          failed.push(attempt(entry.id, provider.name, 'unavailable', 0, lastError.message, true));
          continue;
        }
        if (!isModelError(error) || !MOVES_ON.has(error.code)) throw error;
        failed.push(
          attempt(entry.id, provider.name, error.code as FallbackFailureCode, now() - started, error.message),
        );
        if (error.code === 'rate_limited' && error.retryAfterMs !== undefined) {
          const retryAt = now() + error.retryAfterMs;
          this.waitUntil.set(entry.id, retryAt);
          earliestRetry = Math.min(earliestRetry ?? retryAt, retryAt);
        }
        this.options.logger?.warn(
          { modelId: entry.id, code: error.code },
          'model call failed; trying the next fallback',
        );
        lastError = error;
      }
    }
    if (earliestRetry !== undefined && (lastError === undefined || lastError.code === 'rate_limited')) {
      throw new ModelError(
        'rate_limited',
        `every model for this request is rate limited (${chain.map((e) => e.id).join(', ')}); retry after the provider's Retry-After` +
          (lastError === undefined ? '' : ` (last: ${lastError.message})`),
        { modelId: first.id, retryAfterMs: Math.max(0, earliestRetry - now()) },
      );
    }
    throw (
      lastError ??
      new ModelError(
        'unavailable',
        `no provider in this process serves ${chain.map((e) => e.id).join(' or ')}; configure one or change the fallbacks`,
        { modelId: first.id, retryable: false },
      )
    );
  }

  async embed(texts: readonly string[], options?: EmbedOptions): Promise<EmbedResponse> {
    return (this.options.embeddings ?? this.primaryProvider()).embed(texts, options);
  }

  async tokenCounter(model?: string): Promise<ModelTokenCounter | undefined> {
    const entry = this.options.registry.find(model ?? this.options.defaultChatModel.id);
    const provider = entry === undefined ? undefined : this.options.providerFor(entry);
    return provider?.tokenCounter?.(entry?.id);
  }

  /** Closes nothing: the wrapped providers belong to the caller. */
  async close(): Promise<void> {}

  private primaryProvider(): ModelProvider {
    const provider = this.options.providerFor(this.options.defaultChatModel);
    if (provider === undefined) {
      throw new ModelError(
        'unavailable',
        `no provider serves the default chat model ${this.options.defaultChatModel.id}`,
        { modelId: this.options.defaultChatModel.id, retryable: false },
      );
    }
    return provider;
  }

  private breaker(modelId: string): CircuitBreakerPolicy {
    let breaker = this.breakers.get(modelId);
    if (breaker === undefined) {
      breaker = circuitBreaker(
        handleWhen((error) => isModelError(error) && MOVES_ON.has(error.code)),
        {
          halfOpenAfter: this.options.coolDownMs ?? 30_000,
          breaker: new ConsecutiveBreaker(this.options.failureThreshold ?? 5),
        },
      );
      this.breakers.set(modelId, breaker);
    }
    return breaker;
  }
}

function attempt(
  modelId: string,
  provider: string,
  code: FallbackFailureCode,
  latencyMs: number,
  message: string,
  skipped = false,
): FailedModelAttempt {
  return {
    modelId,
    provider,
    code,
    latencyMs: Math.max(0, latencyMs),
    ...(skipped && { skipped: true }),
    message: toStorableText(truncateText(message, 500)),
  };
}
