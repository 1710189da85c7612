import type { ApiKeyRegistry } from '@llmbus/access';
import type { EventBus } from '@llmbus/bus';
import type { PlatformConfig } from '@llmbus/config';
import type { Logger } from '@llmbus/observability';
import type { Embedder, IngestorOptions, RetrieverOptions, VectorStore } from '@llmbus/retrieval';
import type { RetrievalCache } from './retrieval-cache';

/** What the retriever needs; the caller owns the bus, the embedder and the store and closes them. */
export interface RetrieverDeps {
  readonly bus: EventBus;
  readonly config: PlatformConfig;
  readonly logger: Logger;
  /** Unused: the retriever serves no HTTP. Accepted so every stage takes the same deps. */
  readonly apiKeys?: ApiKeyRegistry;
  /** Any ModelProvider from @llmbus/models fits. */
  readonly embedder: Embedder;
  readonly vectorStore: VectorStore;
  readonly ingestion?: IngestorOptions;
  readonly retrieval?: RetrieverOptions;
  /** Results reused per asker and question (RETRIEVAL_CACHE_TTL_MS); none: every request is searched. The caller closes it. */
  readonly retrievalCache?: RetrievalCache;
}
