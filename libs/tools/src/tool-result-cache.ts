import { type CacheStore, MemoryCache } from '@llmbus/cache';
import type { ToolResult } from './tool-definition';

/**
 * Results of cacheable read tools, keyed by `<tenant>:<call hash>` (the hash covers the tool and
 * its canonical arguments), so a result is only ever reused for the same tenant and the same call.
 * The generator backs it with Redis in distributed mode (`REDIS_URL`), memory otherwise.
 */
export type ToolResultCache = CacheStore<ToolResult>;

/** Tool results in process memory, least recently used dropped first (default 1,000 entries), each with its expiry. */
export class MemoryToolResultCache extends MemoryCache<ToolResult> {}
