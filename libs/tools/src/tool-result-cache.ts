import type { ToolResult } from './tool-definition';

/**
 * Results of cacheable read tools, keyed by `<tenant>:<call hash>` (the hash covers the tool and
 * its canonical arguments), so a result is only ever reused for the same tenant and the same call.
 * The generator backs it with Redis in distributed mode (`REDIS_URL`), memory otherwise.
 */
export interface ToolResultCache {
  get(key: string): Promise<ToolResult | undefined>;
  set(key: string, result: ToolResult, ttlMs: number): Promise<void>;
}

/** An LRU of tool results in process memory, each with its expiry. */
export class MemoryToolResultCache implements ToolResultCache {
  private readonly entries = new Map<string, { result: ToolResult; expires: number }>();

  /** `maxEntries`: results kept, least recently used dropped first (default 1,000). */
  constructor(
    private readonly maxEntries = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): Promise<ToolResult | undefined> {
    const entry = this.entries.get(key);
    if (entry === undefined) return Promise.resolve(undefined);
    this.entries.delete(key);
    if (entry.expires <= this.now()) return Promise.resolve(undefined);
    this.entries.set(key, entry);
    return Promise.resolve(entry.result);
  }

  set(key: string, result: ToolResult, ttlMs: number): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { result, expires: this.now() + ttlMs });
    while (this.entries.size > this.maxEntries)
      this.entries.delete(this.entries.keys().next().value as string);
    return Promise.resolve();
  }
}
