import { apiKeyRegistryProvider, OPS_CONTROLLERS } from '@llmbus/http-nest';
import { createPiiDetector, PiiProtection, processPiiKey } from '@llmbus/pii';
import { DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { GeneratorDeps } from './generator-deps';
import { GeneratorEventsController } from './generator.events';
import { ResponseGeneration } from './response-generation';

const DEFAULT_CONTEXT_WINDOW = 4096;
const DEFAULT_MODEL_TIMEOUT_MS = 120_000;

/** The generator stage: prompt rendering and model calls. */
@Module({})
export class GeneratorModule {
  /** Wires the generator over the given bus, model provider and workflows. */
  static forRoot(deps: GeneratorDeps): DynamicModule {
    const workflows =
      deps.workflows ?? WorkflowRegistry.fromDirectory(deps.config.workflowsDir ?? DEFAULT_WORKFLOWS_DIR);
    const generation = new ResponseGeneration(
      workflows,
      deps.models,
      deps.selectModel ?? (() => ({ contextWindow: DEFAULT_CONTEXT_WINDOW })),
      deps.tokenCounter,
      deps.modelTimeoutMs ?? DEFAULT_MODEL_TIMEOUT_MS,
      new PiiProtection(
        createPiiDetector(),
        deps.config.piiKey ?? (deps.config.mode === 'embedded' ? processPiiKey() : undefined),
      ),
    );
    return {
      module: GeneratorModule,
      imports: [LoggerModule.forRoot({ pinoHttp: { logger: deps.logger } })],
      controllers: [GeneratorEventsController, ...OPS_CONTROLLERS],
      providers: [
        { provide: ResponseGeneration, useValue: generation },
        apiKeyRegistryProvider(deps.apiKeys ?? deps.config.apiKeys),
      ],
    };
  }
}
