import type { Env, PlatformConfig } from '@llmbus/config';
import type { ModelProviders } from '@llmbus/models';
import type { Logger } from '@llmbus/observability';
import { piiMinimisedModels } from './pii-minimisation';
import { retrieverOptions } from './retrieval-wiring';
import type { RetrieverDeps } from './retriever-deps';
import { loadRetrieverSettings, type RetrieverSettings } from './retriever-settings';

/** The retriever's parts built from its environment: what `startRetriever` takes besides the bus, config, logger and store. */
export interface RetrieverComposition {
  readonly settings: RetrieverSettings;
  readonly stage: Pick<RetrieverDeps, 'embedder' | 'ingestion' | 'retrieval'>;
}

/**
 * Composes the retriever from RETRIEVAL_* variables and the model providers: the one composition
 * both run modes use (distributed `main.ts` and the embedded platform), so a variable the README
 * documents works the same in either. Throws ConfigError naming a bad variable.
 */
export function composeRetriever(
  env: Env,
  config: Pick<PlatformConfig, 'dataDir'>,
  providers: Pick<ModelProviders, 'embeddings' | 'chat' | 'embeddingModel' | 'chatModel'>,
  logger: Logger,
): RetrieverComposition {
  const settings = loadRetrieverSettings(env, config);
  const models = piiMinimisedModels(providers);
  return {
    settings,
    stage: {
      embedder: models.embedder,
      ingestion: settings.ingestion,
      retrieval: retrieverOptions(settings, models, logger),
    },
  };
}
