import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import type { GeneratorDeps } from './generator-deps';
import { GeneratorModule } from './generator.module';

export * from './generator-deps';
export * from './generator.module';
export * from './model-choice';

/** Starts the generator's consumer (HTTP: only /healthz and /metrics, on METRICS_PORT). */
export function startGenerator(deps: GeneratorDeps): Promise<StageApp> {
  return startStageApp({
    module: GeneratorModule.forRoot(deps),
    bus: deps.bus,
    stage: 'generator',
    notifyRequester: true,
    // /healthz and /metrics only, when METRICS_PORT is set.
    httpPort: deps.config.metricsPort,
    httpHost: deps.config.http.host,
  });
}
export { ResponseGeneration, type GenerationInput } from './response-generation';
