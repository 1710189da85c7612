import { MODEL_CALL_DEADLINE_MS } from '@llmbus/config';
import { httpLoggerParams, identityProviders, OPS_CONTROLLERS } from '@llmbus/http-nest';
import { CachedPiiDetector, createPiiDetector, PiiMasker, PiiProtection, processPiiKey } from '@llmbus/pii';
import { MemoryToolCallClaims, MemoryToolResultCache, ToolGate, ToolRegistry } from '@llmbus/tools';
import { DraftPublisher } from './draft-stream';
import { DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { GeneratorDeps } from './generator-deps';
import { GeneratorEventsController } from './generator.events';
import { ModelCallRecorder } from './model-call-recorder';
import { ResponseGeneration } from './response-generation';
import { assertWorkflowToolsDeclared, ToolLoop } from './tool-loop';
import { ToolRoundRunner } from './tool-rounds';
import { assertWorkflowModelsKnown } from './workflow-models';

const DEFAULT_CONTEXT_WINDOW = 4096;

/** The generator stage: prompt rendering, model calls and the tool loop. */
@Module({})
export class GeneratorModule {
  /** Wires the generator over the given bus, model provider and workflows. */
  static forRoot(deps: GeneratorDeps): DynamicModule {
    const workflows =
      deps.workflows ?? WorkflowRegistry.fromDirectory(deps.config.workflowsDir ?? DEFAULT_WORKFLOWS_DIR);
    if (deps.selectModel !== undefined) assertWorkflowModelsKnown(workflows.list(), deps.selectModel);
    const generation = new ResponseGeneration(
      workflows,
      deps.models,
      deps.selectModel ?? (() => ({ contextWindow: DEFAULT_CONTEXT_WINDOW })),
      deps.tokenCounter,
      deps.modelTimeoutMs ?? deps.config.modelCallDeadlineMs ?? MODEL_CALL_DEADLINE_MS,
      // Prompts repeat their system text and passages, outputs quote passages: scan each segment once.
      new PiiProtection(
        new CachedPiiDetector(createPiiDetector()),
        deps.config.piiKey ?? (deps.config.mode === 'embedded' ? processPiiKey() : undefined),
        deps.config.piiPreviousKeys,
      ),
      deps.responseCache,
    );
    const tools = deps.tools ?? new ToolRegistry();
    assertWorkflowToolsDeclared(workflows.list(), tools);
    const loop = new ToolLoop(generation, workflows, tools);
    const rounds = new ToolRoundRunner({
      gate: new ToolGate(tools, deps.toolResultCache ?? new MemoryToolResultCache(), {
        store: deps.toolCallClaims ?? new MemoryToolCallClaims(),
        // Deployments sharing a Redis keep their claims apart.
        namespace: deps.config.topicPrefix,
      }),
      approvalExpiryMs: deps.config.approvalExpiryMs,
    });
    return {
      module: GeneratorModule,
      imports: [LoggerModule.forRoot(httpLoggerParams(deps.logger))],
      controllers: [GeneratorEventsController, ...OPS_CONTROLLERS],
      providers: [
        { provide: ToolLoop, useValue: loop },
        { provide: ToolRoundRunner, useValue: rounds },
        { provide: ModelCallRecorder, useValue: new ModelCallRecorder(deps.bus) },
        {
          provide: DraftPublisher,
          useValue: new DraftPublisher(deps.bus, new PiiMasker(createPiiDetector())),
        },
        ...identityProviders(deps.apiKeys ?? deps.config.apiKeys, deps.config.oidc),
      ],
    };
  }
}
