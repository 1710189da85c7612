import 'reflect-metadata';
import { loadPlatformConfig } from '@llmbus/config';
import { chooseLogFormat, createLogger } from '@llmbus/observability';
import { closeOnSignals, distributedBus, runMain } from '@llmbus/runtime';
import { startValidator } from './index';

/** Distributed entry point: Kafka in and out. */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, {
    mode: 'distributed',
    httpPort: 0,
    clientId: 'llmbus-validator',
    servesHttp: false,
  });
  const logger = createLogger({
    service: 'validator',
    level: config.logLevel,
    format: chooseLogFormat(config.logFormat, false),
  });
  const bus = distributedBus(config, logger, 'validator');
  const app = await startValidator({ bus, config, logger });
  logger.info('validator started');
  closeOnSignals('validator', logger, [() => app.close(), () => bus.close()]);
}

runMain('validator', main);
