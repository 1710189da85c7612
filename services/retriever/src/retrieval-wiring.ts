import type { Logger } from '@llmbus/observability';
import {
  EmbeddingReranker,
  ModelQueryDecomposer,
  NO_DECOMPOSITION,
  RuleQueryDecomposer,
  type Embedder,
  type RetrieverOptions,
  type StructuredChatModel,
} from '@llmbus/retrieval';
import type { RetrieverSettings } from './retriever-settings';

/** Retriever options with the configured reranker and query decomposer; `chat` is needed only for model decomposition. */
export function retrieverOptions(
  settings: Pick<RetrieverSettings, 'retrieval' | 'reranker' | 'decomposition'>,
  models: { embedder: Embedder; chat?: StructuredChatModel },
  logger: Logger,
): RetrieverOptions {
  const decomposer =
    settings.decomposition === 'off'
      ? NO_DECOMPOSITION
      : settings.decomposition === 'model' && models.chat
        ? new ModelQueryDecomposer(models.chat, {
            onFallback: (error) =>
              logger.warn({ err: error }, 'query decomposition by model failed; split by rules'),
          })
        : new RuleQueryDecomposer();
  return {
    ...settings.retrieval,
    decomposer,
    ...(settings.reranker === 'embedding' ? { reranker: new EmbeddingReranker(models.embedder) } : {}),
  };
}
