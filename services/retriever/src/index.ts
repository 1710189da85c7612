import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import type { RetrieverDeps } from './retriever-deps';
import { RetrieverModule } from './retriever.module';

export * from './retriever-deps';
export * from './retriever.module';

/** Starts the retriever: one consumer for document ingestion and routed requests; no HTTP. */
export function startRetriever(deps: RetrieverDeps): Promise<StageApp> {
  return startStageApp({
    module: RetrieverModule.forRoot(deps),
    bus: deps.bus,
    stage: 'retriever',
    notifyRequester: true,
  });
}
