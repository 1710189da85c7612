import {
  type CacheLimits,
  type CacheStore,
  MemoryCache,
  RedisCache,
  type RedisCommands,
  tenantScopedKey,
} from '@llmbus/cache';
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
 * The cache key of a model call: `<tenant>:<sha256>` ({@link tenantScopedKey}) where the hash covers
 * the scope, the model and every request parameter that shapes the answer (messages, i.e. the full
 * prompt, temperature, top-p, stop, max tokens, seed, response schema, tools, tool choice),
 * serialised with RFC 8785 JSON canonicalisation. Callbacks and deadlines are not part of it.
 */
export function responseCacheKey(scope: ResponseCacheScope, model: string, request: ChatRequest): string {
  return tenantScopedKey(scope.tenant, {
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
}

/** A stored answer: the response as the model gave it (usage included: that is the cost a hit saves). */
export type CachedResponse = ChatResponse;

/** Where cached model responses live; values over `maxEntryBytes` are not stored. */
export type ResponseCache = CacheStore<CachedResponse>;

/** Bounds of a response cache: entries kept in memory (default 1,000), largest response stored (default 256 KiB). */
export type ResponseCacheLimits = CacheLimits;

/** Model responses in process memory, least recently used evicted first, each with its expiry (embedded mode). */
export class MemoryResponseCache extends MemoryCache<CachedResponse> {}

/** Model responses in Redis under `llmbus:cache:model:`, shared by every replica (see {@link RedisCache}). */
export class RedisResponseCache extends RedisCache<CachedResponse> {
  constructor(redis: RedisCommands, limits: ResponseCacheLimits = {}, prefix = 'llmbus:cache:model:') {
    super(redis, prefix, limits);
  }
}
