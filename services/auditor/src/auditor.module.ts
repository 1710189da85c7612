import { EventBus } from '@llmbus/bus';
import { ConfigError } from '@llmbus/config';
import { API_KEY_REGISTRY, OPS_CONTROLLERS } from '@llmbus/http-nest';
import { processPiiKey } from '@llmbus/pii';
import { DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { AuditPrivacy } from './audit-privacy';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AuditRecorderController } from './audit-recorder.controller';
import { AUDIT_STORE, AuditorDeps } from './auditor-deps';
import { RequestsController } from './requests.controller';
import { ReviewsController } from './reviews.controller';

/** The auditor stage: records every event, serves the trail, the review queue and costs. */
@Module({})
export class AuditorModule {
  /** Wires the auditor over the given bus, store and API keys. */
  static forRoot(deps: AuditorDeps): DynamicModule {
    const apiKeys = deps.apiKeys ?? deps.config.apiKeys;
    if (!apiKeys) {
      throw new ConfigError(
        'API_KEYS',
        '<key>:<tenant>:<role>[+<role>...] entries separated by "," (the auditor API needs keys)',
        undefined,
      );
    }
    return {
      module: AuditorModule,
      imports: [LoggerModule.forRoot({ pinoHttp: { logger: deps.logger } })],
      controllers: [AuditRecorderController, RequestsController, ReviewsController, ...OPS_CONTROLLERS],
      providers: [
        { provide: AUDIT_STORE, useValue: deps.store },
        { provide: EventBus, useValue: deps.bus },
        { provide: API_KEY_REGISTRY, useValue: apiKeys },
        {
          provide: AuditPrivacy,
          useValue: new AuditPrivacy(
            deps.workflows ??
              WorkflowRegistry.fromDirectory(deps.config.workflowsDir ?? DEFAULT_WORKFLOWS_DIR),
            deps.config.piiKey ?? (deps.config.mode === 'embedded' ? processPiiKey() : undefined),
          ),
        },
      ],
    };
  }
}
