import { httpLoggerParams, identityProviders, OPS_CONTROLLERS } from '@llmbus/http-nest';
import { CachedPiiDetector, createPiiDetector, PiiProtection, processPiiKey } from '@llmbus/pii';
import { ClaimVerifier, DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { ResponseValidation } from './response-validation';
import type { ValidatorDeps } from './validator-deps';
import { ValidatorEventsController } from './validator.events';

/** The validator stage: output validation, retries, escalation and review decisions. */
@Module({})
export class ValidatorModule {
  /** Wires the validator over the given bus and workflows. */
  static forRoot(deps: ValidatorDeps): DynamicModule {
    const workflows =
      deps.workflows ?? WorkflowRegistry.fromDirectory(deps.config.workflowsDir ?? DEFAULT_WORKFLOWS_DIR);
    const validation = new ResponseValidation(
      workflows,
      // Prompts repeat their system text and passages, outputs quote passages: scan each segment once.
      new PiiProtection(
        new CachedPiiDetector(createPiiDetector()),
        deps.config.piiKey ?? (deps.config.mode === 'embedded' ? processPiiKey() : undefined),
        deps.config.piiPreviousKeys,
      ),
      deps.verifierChat && new ClaimVerifier(deps.verifierChat),
    );
    return {
      module: ValidatorModule,
      imports: [LoggerModule.forRoot(httpLoggerParams(deps.logger))],
      controllers: [ValidatorEventsController, ...OPS_CONTROLLERS],
      providers: [
        { provide: ResponseValidation, useValue: validation },
        ...identityProviders(deps.apiKeys ?? deps.config.apiKeys, deps.config.oidc),
      ],
    };
  }
}
