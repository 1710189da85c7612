// First, before any other module loads: V8's compiled code of every module loaded after this is
// kept on disk (NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache), so that a restarted process
// skips compiling it: about a fifth of a stage's start-up CPU. Where the cache cannot be written it
// stays off. The statement order is deliberate: the imports below load after it.
import { enableCompileCache } from 'node:module';
enableCompileCache();
import 'reflect-metadata';
import { loadPlatformConfig } from '@llmbus/config';
import { createModelProviders, parseModelsConfig } from '@llmbus/models';
import { chooseLogFormat, createLogger } from '@llmbus/observability';
import { closeOnSignals, distributedBus, runMain } from '@llmbus/runtime';
import { startValidator, verifierChat } from './index';

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
  // Models are loaded on first use: only a workflow with verify.model makes the validator call one.
  const providers = createModelProviders(parseModelsConfig(process.env), { logger });
  const bus = distributedBus(config, logger, 'validator');
  const app = await startValidator({ bus, config, logger, verifierChat: verifierChat(providers) });
  logger.info('validator started');
  closeOnSignals('validator', logger, [() => app.close(), () => bus.close(), () => providers.close()], {
    graceMs: config.shutdownGraceMs,
    inFlight: [bus, providers],
  });
}

runMain('validator', main);
