import { EventBus } from '@llmbus/bus';
import { ConfigError } from '@llmbus/config';
import { httpLoggerParams, identityProviders } from '@llmbus/http-nest';
import { processPiiKey } from '@llmbus/pii';
import { DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { ApprovalExpiry } from './approval-expiry';
import { AuditPrivacy } from './audit-privacy';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AuditRecorderController } from './audit-recorder.controller';
import { AUDIT_STORE, AuditorDeps } from './auditor-deps';
import { ConsoleController } from './console.controller';
import { RequestOutcomeTally } from './request-outcome-tally';
import { AUDITOR_HTTP_CONTROLLERS } from './auditor-openapi';

/** The auditor stage: records every event, serves the trail, the review queue and costs. */
@Module({})
export class AuditorModule {
  /** Wires the auditor over the given bus, store and API keys. */
  static forRoot(deps: AuditorDeps): DynamicModule {
    const apiKeys = deps.apiKeys ?? deps.config.apiKeys;
    if (!apiKeys && !deps.config.oidc) {
      throw new ConfigError(
        'API_KEYS',
        '<key>:<tenant>:<role>[+<role>...][:<group>|<group>...] entries separated by "," (the auditor API needs keys, or bearer JWTs: OIDC_ISSUER)',
        undefined,
      );
    }
    const workflows =
      deps.workflows ?? WorkflowRegistry.fromDirectory(deps.config.workflowsDir ?? DEFAULT_WORKFLOWS_DIR);
    return {
      module: AuditorModule,
      imports: [LoggerModule.forRoot(httpLoggerParams(deps.logger))],
      controllers: [AuditRecorderController, ConsoleController, ...AUDITOR_HTTP_CONTROLLERS],
      providers: [
        { provide: AUDIT_STORE, useValue: deps.store },
        { provide: EventBus, useValue: deps.bus },
        { provide: WorkflowRegistry, useValue: workflows },
        // Embedded mode: this process's auditor records every event of every request.
        { provide: RequestOutcomeTally, useValue: new RequestOutcomeTally(deps.config.mode === 'embedded') },
        { provide: ApprovalExpiry, useValue: new ApprovalExpiry(deps.store, deps.bus, deps.logger) },
        ...identityProviders(apiKeys, deps.config.oidc),
        {
          provide: AuditPrivacy,
          useValue: new AuditPrivacy(
            workflows,
            deps.config.piiKey ?? (deps.config.mode === 'embedded' ? processPiiKey() : undefined),
            deps.config.piiPreviousKeys,
          ),
        },
      ],
    };
  }
}
