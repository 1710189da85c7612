import 'reflect-metadata';
import { createModelProviders, parseModelsConfig } from '@llmbus/models';
import { loadPlatformConfig } from '@llmbus/config';
import { createLogger } from '@llmbus/observability';
import { closeOnSignals, distributedBus, runMain } from '@llmbus/runtime';
import { chatModelChooser, startGenerator } from './index';

/** Distributed entry point: Kafka in and out, the configured model provider (local or OpenAI-compatible). */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, {
    mode: 'distributed',
    httpPort: 0,
    clientId: 'llmbus-generator',
    servesHttp: false,
  });
  const logger = createLogger({ service: 'generator', level: config.logLevel });
  const providers = createModelProviders(parseModelsConfig(process.env), { logger });
  const bus = distributedBus(config, logger, 'generator');
  const app = await startGenerator({
    bus,
    config,
    logger,
    models: providers.chat,
    selectModel: chatModelChooser(providers),
  });
  logger.info({ chatModel: providers.chatModel.id }, 'generator started');
  closeOnSignals('generator', logger, [() => app.close(), () => bus.close(), () => providers.close()]);
}

runMain('generator', main);
