// First, before any other module loads: V8's compiled code of every module loaded after this is
// kept on disk (NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache), so that a restarted process
// skips compiling it: about a fifth of a stage's start-up CPU. Where the cache cannot be written it
// stays off. The statement order is deliberate: the imports below load after it.
import { enableCompileCache } from 'node:module';
enableCompileCache();
import 'reflect-metadata';
import { loadPlatformConfig } from '@llmbus/config';
import { closeOnSignals, distributedBus, runMain } from '@llmbus/runtime';
import { createModelProviders, parseModelsConfig } from '@llmbus/models';
import { chooseLogFormat, createLogger, type Logger } from '@llmbus/observability';
import { PgliteVectorStore, QdrantVectorStore, type VectorStore } from '@llmbus/retrieval';
import { composeRetriever, startRetriever } from './index';

/** Distributed entry point: Kafka in and out, Qdrant when QDRANT_URL is set (else embedded PGlite), the configured embedding model. */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, {
    mode: 'distributed',
    httpPort: 0,
    clientId: 'llmbus-retriever',
    servesHttp: false,
  });
  const logger = createLogger({
    service: 'retriever',
    level: config.logLevel,
    format: chooseLogFormat(config.logFormat, false),
  });
  const providers = createModelProviders(parseModelsConfig(process.env), { logger, traced: true });
  const { settings, stage } = composeRetriever(process.env, config, providers, logger);
  const vectorStore = await openVectorStore(
    config.qdrantUrl,
    config.qdrantApiKey,
    settings.embeddedStoreDir,
    logger,
  );
  const bus = distributedBus(config, logger, 'retriever');
  const app = await startRetriever({
    bus,
    config,
    logger,
    vectorStore,
    ...stage,
  });
  logger.info(
    {
      embeddingModel: providers.embeddingModel.id,
      vectorStore: vectorStore.kind,
      hybrid: settings.retrieval.lexical,
      reranker: settings.reranker,
      decomposition: settings.decomposition,
    },
    'retriever started',
  );
  closeOnSignals(
    'retriever',
    logger,
    [
      () => app.close(),
      () => bus.close(),
      () => stage.retrievalCache?.close() ?? Promise.resolve(),
      () => vectorStore.close(),
      () => providers.close(),
    ],
    { graceMs: config.shutdownGraceMs, inFlight: [bus, providers] },
  );
}

async function openVectorStore(
  qdrantUrl: string | undefined,
  qdrantApiKey: string | undefined,
  dataDir: string | undefined,
  logger: Logger,
): Promise<VectorStore> {
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

runMain('retriever', main);
