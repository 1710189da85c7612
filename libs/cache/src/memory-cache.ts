import {
  type CacheLimits,
  type CacheStore,
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MAX_ENTRY_BYTES,
} from './cache-store';

/**
 * A least-recently-used cache in process memory with an expiry per entry (embedded mode, one
 * replica). Values are kept as JSON text, so a caller can never change a stored value through
 * the object it stored or got back.
 */
export class MemoryCache<V> implements CacheStore<V> {
  private readonly entries = new Map<string, { json: string; expires: number }>();
  private readonly maxEntries: number;
  private readonly maxEntryBytes: number;

  /** `now`: the clock in epoch milliseconds (tests pass their own). */
  constructor(
    limits: CacheLimits = {},
    private readonly now: () => number = Date.now,
  ) {
    this.maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.maxEntryBytes = limits.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
  }

  /** Entries held, expired ones not yet evicted included. */
  get size(): number {
    return this.entries.size;
  }

  get(key: string): Promise<V | undefined> {
    const entry = this.entries.get(key);
    if (entry === undefined) return Promise.resolve(undefined);
    this.entries.delete(key);
    if (entry.expires <= this.now()) return Promise.resolve(undefined);
    this.entries.set(key, entry); // most recently used last
    return Promise.resolve(JSON.parse(entry.json) as V);
  }

  set(key: string, value: V, ttlMs: number): Promise<void> {
    const json = JSON.stringify(value);
    if (ttlMs <= 0 || json === undefined || Buffer.byteLength(json) > this.maxEntryBytes)
      return Promise.resolve();
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
