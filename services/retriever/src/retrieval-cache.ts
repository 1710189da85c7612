import { type CacheStore, MemoryCache, RedisCache, tenantScopedKey } from '@llmbus/cache';
import type { RetrievalRequest, RetrievalResult } from '@llmbus/retrieval';
import type { Redis } from 'ioredis';

/**
 * Where cached retrieval results and the per-collection generations live: process memory
 * (embedded mode) or Redis (every replica sees every other's document changes).
 */
export interface RetrievalCacheBackend {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** The collection's current generation: bumped by every document change in it. */
  generations(tenant: string, collections: readonly string[]): Promise<number[]>;
  bump(tenant: string, collection: string): Promise<void>;
  close(): Promise<void>;
}

const MAX_MEMORY_ENTRIES = 5_000;
/** Largest cached result (JSON text, bytes): topK passages with their text fit well below it. */
const MAX_ENTRY_BYTES = 1024 * 1024;

/** In-process backend: an LRU of results (5,000 entries, 1 MiB each at most), generations in a map. */
export class MemoryRetrievalCacheBackend implements RetrievalCacheBackend {
  private readonly entries: CacheStore<string> = new MemoryCache<string>({
    maxEntries: MAX_MEMORY_ENTRIES,
    maxEntryBytes: MAX_ENTRY_BYTES,
  });
  private readonly gens = new Map<string, number>();

  get(key: string): Promise<string | undefined> {
    return this.entries.get(key);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.entries.set(key, value, ttlMs);
  }

  generations(tenant: string, collections: readonly string[]): Promise<number[]> {
    return Promise.resolve(collections.map((c) => this.gens.get(genKey(tenant, c)) ?? 0));
  }

  bump(tenant: string, collection: string): Promise<void> {
    const key = genKey(tenant, collection);
    this.gens.set(key, (this.gens.get(key) ?? 0) + 1);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this.entries.close();
  }
}

/**
 * Redis backend: results under `llmbus:cache:retrieval:<key>` with a TTL, generations as counters
 * (`INCR`) that never expire. A Redis error on a read is a miss; on a write it is ignored; a
 * failed bump is thrown, so the document change is retried rather than leaving stale results.
 */
export class RedisRetrievalCacheBackend implements RetrievalCacheBackend {
  private readonly entries: RedisCache<string>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'llmbus:cache:retrieval:',
  ) {
    this.entries = new RedisCache<string>(redis, prefix, { maxEntryBytes: MAX_ENTRY_BYTES });
  }

  get(key: string): Promise<string | undefined> {
    return this.entries.get(key);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.entries.set(key, value, ttlMs);
  }

  async generations(tenant: string, collections: readonly string[]): Promise<number[]> {
    if (collections.length === 0) return [];
    const values = await this.redis.mget(...collections.map((c) => `${this.prefix}gen:${genKey(tenant, c)}`));
    return values.map((value) => Number(value ?? 0));
  }

  async bump(tenant: string, collection: string): Promise<void> {
    await this.redis.incr(`${this.prefix}gen:${genKey(tenant, collection)}`);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

function genKey(tenant: string, collection: string): string {
  return `${encodeURIComponent(tenant)}:${encodeURIComponent(collection)}`;
}

/**
 * Retrieval results cached per asker. The key covers the tenant, the asker's exact set of groups
 * (sorted), the collections with their current generations, topK, the query and the collection
 * weights (RFC 8785 canonical JSON, SHA-256), so an entry is never served to another tenant, to
 * an asker with other (fewer or more) groups, or after a document of those collections changed:
 * ingestion and deletion bump the collection's generation. Hits carry the embedding usage with
 * `cached: true`, zero cost and `costSavedUsd`.
 */
export class RetrievalCache {
  constructor(
    private readonly backend: RetrievalCacheBackend,
    readonly ttlMs: number,
  ) {}

  /** The cached result of `request`, or the result of `compute`, stored for the next asker with the same key. */
  async lookup(
    request: RetrievalRequest,
    compute: () => Promise<RetrievalResult>,
  ): Promise<RetrievalResult & { readonly cached?: boolean }> {
    const collections = [...new Set(request.collections)].sort();
    const gens = await this.backend.generations(request.tenant, collections);
    const key = tenantScopedKey(request.tenant, {
      groups: [...new Set(request.groups)].sort(),
      collections: Object.fromEntries(collections.map((c, i) => [c, gens[i] ?? 0])),
      order: request.collections,
      topK: request.topK,
      query: request.query,
      weights: request.collectionWeights ?? {},
    });
    const hit = await this.backend.get(key);
    if (hit !== undefined) {
      const stored = JSON.parse(hit) as RetrievalResult;
      return {
        ...stored,
        cached: true,
        ...(stored.usage === undefined
          ? {}
          : {
              usage: {
                ...stored.usage,
                promptTokens: 0,
                completionTokens: 0,
                costUsd: 0,
                latencyMs: 0,
                cached: true,
                costSavedUsd: stored.usage.costUsd,
              },
            }),
      };
    }
    const result = await compute();
    await this.backend.set(key, JSON.stringify(result), this.ttlMs);
    return result;
  }

  /** A document of the tenant's collection changed: every cached result over it is stale. */
  invalidate(tenant: string, collection: string): Promise<void> {
    return this.backend.bump(tenant, collection);
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}
