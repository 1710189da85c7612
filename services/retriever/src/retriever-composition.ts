import { ConfigError, optional, type Env, type PlatformConfig } from '@llmbus/config';
import { newRedis, type ModelProviders } from '@llmbus/models';
import type { Logger } from '@llmbus/observability';
import { piiMinimisedModels } from './pii-minimisation';
import { MemoryRetrievalCacheBackend, RedisRetrievalCacheBackend, RetrievalCache } from './retrieval-cache';
import { retrieverOptions } from './retrieval-wiring';
import type { RetrieverDeps } from './retriever-deps';
import { loadRetrieverSettings, type RetrieverSettings } from './retriever-settings';

/** The retriever's parts built from its environment: what `startRetriever` takes besides the bus, config, logger and store. */
export interface RetrieverComposition {
  readonly settings: RetrieverSettings;
  readonly stage: Pick<RetrieverDeps, 'embedder' | 'ingestion' | 'retrieval' | 'retrievalCache'>;
}

/**
 * Composes the retriever from RETRIEVAL_* variables and the model providers: the one composition
 * both run modes use (distributed `main.ts` and the embedded platform), so a variable the README
 * documents works the same in either. Throws ConfigError naming a bad variable.
 */
export function composeRetriever(
  env: Env,
  config: Pick<PlatformConfig, 'dataDir'> & Partial<Pick<PlatformConfig, 'mode'>>,
  providers: Pick<ModelProviders, 'embeddings' | 'chat' | 'embeddingModel' | 'chatModel'>,
  logger: Logger,
): RetrieverComposition {
  const settings = loadRetrieverSettings(env, config);
  const models = piiMinimisedModels(providers);
  const retrievalCache = retrievalCacheFor(env, config, settings.cacheTtlMs);
  return {
    settings,
    stage: {
      embedder: models.embedder,
      ingestion: settings.ingestion,
      retrieval: retrieverOptions(settings, models, logger),
      ...(retrievalCache === undefined ? {} : { retrievalCache }),
    },
  };
}

// Results shared through Redis when REDIS_URL is set. Distributed replicas must see each other's
// document changes, so there the cache needs Redis; embedded mode keeps it in memory.
function retrievalCacheFor(
  env: Env,
  config: Partial<Pick<PlatformConfig, 'mode'>>,
  ttlMs: number,
): RetrievalCache | undefined {
  if (ttlMs === 0) return undefined;
  const redisUrl = optional(env, 'REDIS_URL');
  if (redisUrl === undefined) {
    if (config.mode === 'distributed') {
      throw new ConfigError(
        'RETRIEVAL_CACHE_TTL_MS',
        "REDIS_URL as well in distributed mode (replicas must see each other's document changes), or 0 to turn the cache off",
        String(ttlMs),
      );
    }
    return new RetrievalCache(new MemoryRetrievalCacheBackend(), ttlMs);
  }
  return new RetrievalCache(
    new RedisRetrievalCacheBackend(newRedis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })),
    ttlMs,
  );
}
