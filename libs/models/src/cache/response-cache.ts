import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Redis } from 'ioredis';
import type { ChatRequest, ChatResponse } from '../model-provider';

/**
 * Whose answer a cached response is. Every field is part of the key, so an entry can only be
 * served to the same tenant, for the same workflow version: there is no way to build a key
 * without them.
 */
export interface ResponseCacheScope {
  readonly tenant: string;
  readonly workflowId: string;
  readonly workflowVersion: number;
}

/**
 * The cache key of a model call: `<tenant>:<sha256>` where the hash covers the scope, the model and
 * every request parameter that shapes the answer (messages, i.e. the full prompt, temperature,
 * top-p, stop, max tokens, seed, response schema, tools, tool choice), serialised with RFC 8785
 * JSON canonicalisation. Callbacks and deadlines are not part of it.
 */
export function responseCacheKey(scope: ResponseCacheScope, model: string, request: ChatRequest): string {
  const material = canonicalize({
    scope,
    model,
    messages: request.messages,
    temperature: request.temperature ?? null,
    topP: request.topP ?? null,
    stop: request.stop ?? null,
    maxTokens: request.maxTokens ?? null,
    seed: request.seed ?? null,
    responseSchema: request.responseSchema ?? null,
    tools: request.tools ?? null,
    toolChoice: request.toolChoice ?? null,
  });
  const digest = createHash('sha256')
    .update(material ?? '')
    .digest('hex');
  return `${encodeURIComponent(scope.tenant)}:${digest}`;
}

/** A stored answer: the response as the model gave it (usage included: that is the cost a hit saves). */
export type CachedResponse = ChatResponse;

/** Where cached model responses live; values are bounded by `maxEntryBytes` when stored. */
export interface ResponseCache {
  get(key: string): Promise<CachedResponse | undefined>;
  /** Stores unless the serialised response exceeds the entry size bound. */
  set(key: string, value: CachedResponse, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface ResponseCacheLimits {
  /** Entries kept (least recently used evicted first). Default 1,000. */
  readonly maxEntries?: number;
  /** Largest serialised response stored, in bytes. Default 256 KiB. */
  readonly maxEntryBytes?: number;
}

/** An LRU cache in process memory with per-entry expiry (embedded mode, one replica). */
export class MemoryResponseCache implements ResponseCache {
  private readonly entries = new Map<string, { json: string; expires: number }>();
  private readonly maxEntries: number;
  private readonly maxEntryBytes: number;

  constructor(
    limits: ResponseCacheLimits = {},
    private readonly now: () => number = Date.now,
  ) {
    this.maxEntries = limits.maxEntries ?? 1_000;
    this.maxEntryBytes = limits.maxEntryBytes ?? 256 * 1024;
  }

  get(key: string): Promise<CachedResponse | undefined> {
    const entry = this.entries.get(key);
    if (entry === undefined) return Promise.resolve(undefined);
    this.entries.delete(key);
    if (entry.expires <= this.now()) return Promise.resolve(undefined);
    this.entries.set(key, entry); // most recently used last
    return Promise.resolve(JSON.parse(entry.json) as CachedResponse);
  }

  set(key: string, value: CachedResponse, ttlMs: number): Promise<void> {
    const json = JSON.stringify(value);
    if (Buffer.byteLength(json) > this.maxEntryBytes || ttlMs <= 0) return Promise.resolve();
    this.entries.delete(key);
    this.entries.set(key, { json, expires: this.now() + ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }
}

/**
 * Cached responses in Redis, shared by every replica: `SET <prefix><key> <json> PX <ttl>`. Memory is
 * bounded by the entry size bound, the TTL and Redis's own `maxmemory` policy (set one, e.g.
 * `allkeys-lru`, on a Redis used as a cache). A Redis error on `get` is a miss, on `set` is ignored:
 * the cache never fails a call.
 */
export class RedisResponseCache implements ResponseCache {
  private readonly maxEntryBytes: number;

  constructor(
    private readonly redis: Redis,
    limits: ResponseCacheLimits = {},
    private readonly prefix = 'llmbus:cache:model:',
  ) {
    this.maxEntryBytes = limits.maxEntryBytes ?? 256 * 1024;
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    const json = await this.redis.get(this.prefix + key).catch(() => null);
    return json === null ? undefined : (JSON.parse(json) as CachedResponse);
  }

  async set(key: string, value: CachedResponse, ttlMs: number): Promise<void> {
    const json = JSON.stringify(value);
    if (Buffer.byteLength(json) > this.maxEntryBytes || ttlMs <= 0) return;
    await this.redis.set(this.prefix + key, json, 'PX', Math.round(ttlMs)).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
