import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import type { RetrieverDeps } from './retriever-deps';
import { RetrieverModule } from './retriever.module';

export * from './retriever-deps';
export * from './retriever.module';
export * from './retriever-settings';
export * from './retrieval-wiring';
export * from './retriever-composition';
export * from './pii-minimisation';

/** Starts the retriever: one consumer for document ingestion and routed requests; HTTP only for /healthz and /metrics, on METRICS_PORT. */
export function startRetriever(deps: RetrieverDeps): Promise<StageApp> {
  return startStageApp({
    module: RetrieverModule.forRoot(deps),
    bus: deps.bus,
    stage: 'retriever',
    notifyRequester: true,
    // /healthz and /metrics only, when METRICS_PORT is set.
    httpPort: deps.config.metricsPort,
    httpHost: deps.config.http.host,
  });
}
export { MemoryRetrievalCacheBackend, RedisRetrievalCacheBackend, RetrievalCache } from './retrieval-cache';
export type { RetrievalCacheBackend } from './retrieval-cache';
