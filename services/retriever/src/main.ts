import 'reflect-metadata';
import { EventBus, KafkaTransport } from '@llmbus/bus';
import { ConfigError, loadPlatformConfig } from '@llmbus/config';
import { createModelProviders, parseModelsConfig } from '@llmbus/models';
import { createLogger, type Logger } from '@llmbus/observability';
import { PgliteVectorStore, QdrantVectorStore, type VectorStore } from '@llmbus/retrieval';
import { startRetriever } from './index';
import { loadRetrieverSettings } from './retriever-settings';

/** Distributed entry point: Kafka in and out, Qdrant when QDRANT_URL is set (else embedded PGlite), the configured embedding model. */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, { mode: 'distributed', httpPort: 0, clientId: 'llmbus-retriever', servesHttp: false });
  if (!config.kafka) throw new ConfigError('LLMBUS_MODE', 'distributed (the retriever process runs on Kafka)', config.mode);
  const settings = loadRetrieverSettings(process.env, config);
  const logger = createLogger({ service: 'retriever', level: config.logLevel });
  const providers = createModelProviders(parseModelsConfig(process.env), { logger });
  const vectorStore = await openVectorStore(config.qdrantUrl, config.qdrantApiKey, settings.embeddedStoreDir, logger);
  const bus = new EventBus(new KafkaTransport({ ...config.kafka, logger }), {
    logger,
    topicPrefix: config.topicPrefix,
    maxEventBytes: config.maxEventBytes,
    maxAttempts: config.maxAttempts,
    retryDelayMs: config.retryDelayMs,
  });
  const app = await startRetriever({
    bus,
    config,
    logger,
    embedder: providers.embeddings,
    vectorStore,
    ingestion: settings.ingestion,
    retrieval: settings.retrieval,
  });
  logger.info({ embeddingModel: providers.embeddingModel.id, vectorStore: vectorStore.kind }, 'retriever started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'retriever stopping');
    try {
      await app.close();
      await bus.close();
      await vectorStore.close();
      await providers.close();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'retriever did not stop cleanly');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

async function openVectorStore(qdrantUrl: string | undefined, qdrantApiKey: string | undefined, dataDir: string | undefined, logger: Logger): Promise<VectorStore> {
  if (qdrantUrl) {
    logger.info({ qdrantUrl }, 'vector store: Qdrant (QDRANT_URL)');
    return new QdrantVectorStore({ url: qdrantUrl, apiKey: qdrantApiKey });
  }
  // Each replica would have its own embedded store: fine for one process, wrong when scaled out.
  logger.warn(
    { dataDir: dataDir ?? 'in memory' },
    dataDir
      ? 'vector store: embedded PGlite under LLMBUS_DATA_DIR because QDRANT_URL is not set; run one replica only'
      : 'vector store: embedded PGlite in memory because neither QDRANT_URL nor LLMBUS_DATA_DIR is set; the index is lost on restart',
  );
  return PgliteVectorStore.open({ dataDir });
}

main().catch((error: unknown) => {
  // Before the logger exists (bad config) stderr is all there is.
  process.stderr.write(`retriever failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
