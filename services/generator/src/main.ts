import 'reflect-metadata';
import { EventBus, KafkaTransport } from '@llmbus/bus';
import { ConfigError, loadPlatformConfig } from '@llmbus/config';
import { createModelProviders, parseModelsConfig } from '@llmbus/models';
import { createLogger } from '@llmbus/observability';
import { startGenerator } from './index';

/** Distributed entry point: Kafka in and out, the configured model provider (local or OpenAI-compatible). */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, { mode: 'distributed', httpPort: 0, clientId: 'llmbus-generator', servesHttp: false });
  if (!config.kafka) throw new ConfigError('LLMBUS_MODE', 'distributed (the generator process runs on Kafka)', config.mode);
  const logger = createLogger({ service: 'generator', level: config.logLevel });
  const providers = createModelProviders(parseModelsConfig(process.env), { logger });
  const bus = new EventBus(new KafkaTransport({ ...config.kafka, logger }), {
    logger,
    topicPrefix: config.topicPrefix,
    maxEventBytes: config.maxEventBytes,
    maxAttempts: config.maxAttempts,
    retryDelayMs: config.retryDelayMs,
  });
  const app = await startGenerator({
    bus,
    config,
    logger,
    models: providers.chat,
    selectModel: (tier) => {
      const choice = providers.select(tier, ['chat', 'json']);
      return { modelId: choice.model.id, contextWindow: choice.model.contextWindow };
    },
  });
  logger.info({ chatModel: providers.chatModel.id }, 'generator started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'generator stopping');
    try {
      await app.close();
      await bus.close();
      await providers.close();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'generator did not stop cleanly');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  // Before the logger exists (bad config) stderr is all there is.
  process.stderr.write(`generator failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
