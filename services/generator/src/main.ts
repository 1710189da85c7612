import 'reflect-metadata';
import { createModelProviders, parseModelsConfig } from '@llmbus/models';
import { loadPlatformConfig } from '@llmbus/config';
import { createLogger } from '@llmbus/observability';
import { closeOnSignals, distributedBus, runMain } from '@llmbus/runtime';
import { startGenerator } from './index';

/** Distributed entry point: Kafka in and out, the configured model provider (local or OpenAI-compatible). */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, { mode: 'distributed', httpPort: 0, clientId: 'llmbus-generator', servesHttp: false });
  const logger = createLogger({ service: 'generator', level: config.logLevel });
  const providers = createModelProviders(parseModelsConfig(process.env), { logger });
  const bus = distributedBus(config, logger, 'generator');
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
  closeOnSignals('generator', logger, [() => app.close(), () => bus.close(), () => providers.close()]);
}

runMain('generator', main);
