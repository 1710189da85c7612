import { type CacheLimits, type CacheStore, DEFAULT_MAX_ENTRY_BYTES } from './cache-store';

/** The part of an `ioredis` client a cache uses (so this lib needs no Redis client of its own). */
export interface RedisCommands {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: 'PX', ttlMs: number): Promise<unknown>;
  quit(): Promise<unknown>;
}

/**
 * A cache in Redis, shared by every replica: `SET <prefix><key> <json> PX <ttl>`. Memory is
 * bounded by the entry size bound, the TTL and Redis's own `maxmemory` policy (set one, e.g.
 * `allkeys-lru`, on a Redis used as a cache). A Redis error on `get` is a miss, on `set` is
 * ignored: the cache never fails the work it speeds up.
 */
export class RedisCache<V> implements CacheStore<V> {
  private readonly maxEntryBytes: number;

  /** `prefix`: the namespace of this cache's keys, e.g. `llmbus:cache:model:`. */
  constructor(
    protected readonly redis: RedisCommands,
    protected readonly prefix: string,
    limits: CacheLimits = {},
  ) {
    this.maxEntryBytes = limits.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
  }

  async get(key: string): Promise<V | undefined> {
    const json = await this.redis.get(this.prefix + key).catch(() => null);
    return json === null ? undefined : (JSON.parse(json) as V);
  }

  async set(key: string, value: V, ttlMs: number): Promise<void> {
    const json = JSON.stringify(value);
    if (ttlMs <= 0 || json === undefined || Buffer.byteLength(json) > this.maxEntryBytes) return;
    await this.redis.set(this.prefix + key, json, 'PX', Math.round(ttlMs)).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
