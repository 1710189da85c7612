import 'reflect-metadata';
import { EventBus, KafkaTransport } from '@llmbus/bus';
import { ConfigError, loadPlatformConfig } from '@llmbus/config';
import { createLogger } from '@llmbus/observability';
import { startValidator } from './index';

/** Distributed entry point: Kafka in and out; no HTTP surface. */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, { mode: 'distributed', httpPort: 0, clientId: 'llmbus-validator', servesHttp: false });
  if (!config.kafka) throw new ConfigError('LLMBUS_MODE', 'distributed (the validator process runs on Kafka)', config.mode);
  const logger = createLogger({ service: 'validator', level: config.logLevel });
  const bus = new EventBus(new KafkaTransport({ ...config.kafka, logger }), {
    logger,
    topicPrefix: config.topicPrefix,
    maxEventBytes: config.maxEventBytes,
    maxAttempts: config.maxAttempts,
    retryDelayMs: config.retryDelayMs,
  });
  const app = await startValidator({ bus, config, logger });
  logger.info('validator started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'validator stopping');
    try {
      await app.close();
      await bus.close();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'validator did not stop cleanly');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  // Before the logger exists (bad config) stderr is all there is.
  process.stderr.write(`validator failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
