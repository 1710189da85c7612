import { ModelError } from '../model-error';
import type {
  ChatRequest,
  ChatResponse,
  EmbedOptions,
  EmbedResponse,
  ModelProvider,
  ModelTokenCounter,
} from '../model-provider';
import type { ModelEntry, ModelRegistry } from '../registry/model-registry';
import { conservativeTokenCounter } from '../tokens/token-counter';
import type { BucketDemand, RateLimitStore } from './rate-limit-store';

/** Requests and tokens per minute; an absent field is unlimited. */
export interface RateLimit {
  readonly rpm?: number;
  readonly tpm?: number;
}

/** Per-tenant limits: by tenant id, with `*` for every tenant not listed. */
export type TenantRateLimits = ReadonlyMap<string, RateLimit>;

export interface RateLimitedModelProviderOptions {
  readonly registry: ModelRegistry;
  readonly store: RateLimitStore;
  /** The model of requests that name none (the inner provider's default). */
  readonly defaultChatModel: ModelEntry;
  readonly tenantLimits?: TenantRateLimits;
  /**
   * Which limits this wrapper applies: `model` (registry rpm/tpm: wrap each model's provider,
   * inside fallbacks, so a model at its quota falls back), `tenant` (wrap the routed provider once,
   * outside fallbacks), or `both` (one provider, no routing). Default `both`.
   */
  readonly scope?: 'model' | 'tenant' | 'both';
  /**
   * Longest a call waits for its buckets, in milliseconds; a request's own `timeoutMs` shortens it
   * further, never lengthens it. Default 30,000 ms.
   */
  readonly maxWaitMs?: number;
  /** Injectable for tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ModelError('aborted', 'the call was aborted while waiting for a rate limit'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ModelError('aborted', 'the call was aborted while waiting for a rate limit'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The bucket of calls that name no tenant, limited by the `*` entry. */
const ANY_TENANT_KEY = '*';

/**
 * Token-bucket rate limits in front of a provider: per model (the registry entry's `rpm` / `tpm`,
 * the provider's quota) and per tenant (requests and tokens per minute across all models). A call
 * takes one request and its estimated tokens (prompt, counted conservatively, plus `maxTokens`)
 * from every bucket that applies, all or nothing; once it returns, the estimate is corrected by
 * the billed usage. Over a limit the call waits, at most `maxWaitMs` and never past the request's
 * `timeoutMs`, then fails with ModelError `rate_limited` naming the limit and carrying
 * `retryAfterMs` (so a caller such as the bus retries it when a slot is free, instead of holding
 * its work for the whole call deadline). The call itself keeps what is left of its `timeoutMs`. A call larger than a tokens-per-minute limit fails at once (`bad_request`).
 * With a RedisRateLimitStore the buckets are shared by every replica.
 */
export class RateLimitedModelProvider implements ModelProvider {
  readonly name: string;

  constructor(
    private readonly inner: ModelProvider,
    private readonly options: RateLimitedModelProviderOptions,
  ) {
    this.name = inner.name;
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    const entry = this.options.registry.find(request.model ?? this.options.defaultChatModel.id);
    const estimate = estimateTokens(request);
    const demands = this.demandsFor(entry, request.tenant, estimate);
    if (demands.length === 0) return this.inner.chat(request);
    for (const demand of demands) {
      if (demand.cost > demand.perMinute) {
        throw new ModelError(
          'bad_request',
          `the call needs about ${demand.cost} tokens, more than the ${demand.name} allows in a minute; lower maxOutputTokens or the prompt size`,
          { modelId: entry?.id, retryable: false },
        );
      }
    }
    const now = this.options.now ?? Date.now;
    const sleep = this.options.sleep ?? abortableSleep;
    const maxWaitMs = this.options.maxWaitMs ?? 30_000;
    const waitBudgetMs = Math.min(maxWaitMs, request.timeoutMs ?? maxWaitMs);
    const started = now();
    for (;;) {
      const result = await this.options.store.take(demands);
      if (result.granted) break;
      const waited = now() - started;
      if (waited + result.waitMs > waitBudgetMs) {
        throw new ModelError(
          'rate_limited',
          `rate limit reached: ${result.limiting.name}; the next slot is in ${result.waitMs} ms, beyond the ${waitBudgetMs} ms this call may wait (waited ${waited} ms)`,
          { modelId: entry?.id, retryAfterMs: result.waitMs },
        );
      }
      await sleep(Math.max(1, result.waitMs), request.signal);
    }
    const response = await this.inner.chat(
      request.timeoutMs === undefined
        ? request
        : { ...request, timeoutMs: Math.max(1, request.timeoutMs - (now() - started)) },
    );
    const used = response.usage.promptTokens + response.usage.completionTokens;
    await Promise.all(
      demands
        .filter((demand) => demand.key.endsWith(':tpm'))
        .map((demand) => this.options.store.settle(demand, used - demand.cost)),
    );
    return response;
  }

  embed(texts: readonly string[], options?: EmbedOptions): Promise<EmbedResponse> {
    return this.inner.embed(texts, options);
  }

  async tokenCounter(model?: string): Promise<ModelTokenCounter | undefined> {
    return this.inner.tokenCounter?.(model);
  }

  /** Closes nothing: the wrapped provider and the store belong to the caller. */
  async close(): Promise<void> {}

  private demandsFor(
    forEntry: ModelEntry | undefined,
    forTenant: string | undefined,
    tokens: number,
  ): BucketDemand[] {
    const demands: BucketDemand[] = [];
    const scope = this.options.scope ?? 'both';
    const entry = scope === 'tenant' ? undefined : forEntry;
    // A call that names no tenant is not exempt: it counts against the `*` limit, in one bucket
    // shared by every such call (`*` is no tenant's id, so it is never a real tenant's bucket).
    const tenant = scope === 'model' ? undefined : (forTenant ?? ANY_TENANT_KEY);
    if (entry?.rpm !== undefined) {
      demands.push({
        key: `model:${entry.id}:rpm`,
        name: `${entry.id} requests per minute (${entry.rpm})`,
        perMinute: entry.rpm,
        cost: 1,
      });
    }
    if (entry?.tpm !== undefined) {
      demands.push({
        key: `model:${entry.id}:tpm`,
        name: `${entry.id} tokens per minute (${entry.tpm})`,
        perMinute: entry.tpm,
        cost: tokens,
      });
    }
    if (tenant !== undefined) {
      const limits = this.options.tenantLimits;
      const limit = (tenant === ANY_TENANT_KEY ? undefined : limits?.get(tenant)) ?? limits?.get('*');
      const who = tenant === ANY_TENANT_KEY ? 'calls without a tenant (limit "*")' : `tenant ${tenant}`;
      if (limit?.rpm !== undefined) {
        demands.push({
          key: `tenant:${tenant}:rpm`,
          name: `${who} requests per minute (${limit.rpm})`,
          perMinute: limit.rpm,
          cost: 1,
        });
      }
      if (limit?.tpm !== undefined) {
        demands.push({
          key: `tenant:${tenant}:tpm`,
          name: `${who} tokens per minute (${limit.tpm})`,
          perMinute: limit.tpm,
          cost: tokens,
        });
      }
    }
    return demands;
  }
}

/** Prompt tokens counted conservatively (no tokenizer needed) plus the output budget (default 1,024). */
export function estimateTokens(request: ChatRequest): number {
  const prompt = request.messages.reduce(
    (sum, message) => sum + conservativeTokenCounter.count(message.content),
    0,
  );
  return prompt + (request.maxTokens ?? 1_024);
}

/**
 * Parses LLMBUS_TENANT_RATE_LIMITS: comma-separated `<tenant>=<rpm>/<tpm>`, either side may be
 * empty (unlimited), `*` for every other tenant; e.g. `*=60/200000,acme=600/`. Throws an Error
 * naming the bad part.
 */
export function parseTenantRateLimits(raw: string | undefined): TenantRateLimits {
  const limits = new Map<string, RateLimit>();
  if (raw === undefined || raw.trim() === '') return limits;
  for (const part of raw.split(',')) {
    const match = /^\s*([^=\s]+)\s*=\s*(\d*)\s*\/\s*(\d*)\s*$/.exec(part);
    if (match === null) {
      throw new Error(
        `LLMBUS_TENANT_RATE_LIMITS: "${part.trim()}" is invalid: expected <tenant>=<requests per minute>/<tokens per minute>, e.g. "*=60/200000,acme=600/"`,
      );
    }
    const [, tenant, rpm, tpm] = match as unknown as [string, string, string, string];
    const toLimit = (text: string) => (text === '' ? undefined : Number(text));
    const limit: RateLimit = {
      ...(toLimit(rpm) === undefined ? {} : { rpm: toLimit(rpm) }),
      ...(toLimit(tpm) === undefined ? {} : { tpm: toLimit(tpm) }),
    };
    if (limit.rpm === 0 || limit.tpm === 0) {
      throw new Error(
        `LLMBUS_TENANT_RATE_LIMITS: "${part.trim()}" is invalid: a limit must be at least 1 (leave it empty for none)`,
      );
    }
    if (limits.has(tenant)) {
      throw new Error(
        `LLMBUS_TENANT_RATE_LIMITS: tenant "${tenant}" is listed twice; give each tenant one entry`,
      );
    }
    limits.set(tenant, limit);
  }
  return limits;
}
