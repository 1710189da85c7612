import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import type { GeneratorDeps } from './generator-deps';
import { GeneratorModule } from './generator.module';

export * from './generator-deps';
export * from './generator.module';
export * from './model-choice';

/** Starts the generator's consumer (no HTTP surface). */
export function startGenerator(deps: GeneratorDeps): Promise<StageApp> {
  return startStageApp({ module: GeneratorModule.forRoot(deps), bus: deps.bus, stage: 'generator', notifyRequester: true });
}
