import { canonicalDigest } from '@llmbus/contracts';

/**
 * A keyed store of JSON values with a time to live: model responses, tool results and retrieval
 * results are cached through it, in process memory (embedded mode) or Redis (every replica).
 * A cache never fails the work it speeds up: a backend error on `get` is a miss, on `set` is ignored.
 */
export interface CacheStore<V> {
  /** The value stored under `key`, or undefined when absent or expired. */
  get(key: string): Promise<V | undefined>;
  /** Stores a copy of `value` for `ttlMs` milliseconds; skipped when `ttlMs <= 0` or the JSON form is over the entry size bound. */
  set(key: string, value: V, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Bounds of a cache. */
export interface CacheLimits {
  /** Entries kept in memory, least recently used evicted first (default 1,000; Redis relies on its own `maxmemory` policy). */
  readonly maxEntries?: number;
  /** Largest JSON form stored, in bytes (UTF-8; default 256 KiB). */
  readonly maxEntryBytes?: number;
}

export const DEFAULT_MAX_ENTRIES = 1_000;
export const DEFAULT_MAX_ENTRY_BYTES = 256 * 1024;

/**
 * A tenant-scoped cache key: `<url-encoded tenant>:<canonicalDigest(material)>`. The tenant is both
 * a prefix and part of the hashed material, so no key built for one tenant can equal another's.
 * @throws TypeError when `material` has no JSON form.
 */
export function tenantScopedKey(tenant: string, material: unknown): string {
  return `${encodeURIComponent(tenant)}:${canonicalDigest({ tenant, material })}`;
}
