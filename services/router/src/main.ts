import 'reflect-metadata';
import { loadPlatformConfig } from '@llmbus/config';
import { createLogger } from '@llmbus/observability';
import { closeOnSignals, distributedBus, runMain } from '@llmbus/runtime';
import { startRouter } from './index';

/** Distributed entry point: Kafka in and out, HTTP ingress on port 8080. */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, {
    mode: 'distributed',
    httpPort: 8080,
    clientId: 'llmbus-router',
  });
  const logger = createLogger({ service: 'router', level: config.logLevel });
  const bus = distributedBus(config, logger, 'router');
  const app = await startRouter({ bus, config, logger });
  logger.info({ url: app.url }, 'router started');
  closeOnSignals('router', logger, [() => app.close(), () => bus.close()]);
}

runMain('router', main);
