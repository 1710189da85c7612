import { ANY_TENANT } from '@llmbus/access';
import { ConfigError } from '@llmbus/config';
import { httpLoggerParams, identityProviders, READINESS_CHECK } from '@llmbus/http-nest';
import { DEFAULT_WORKFLOWS_DIR, RequestClassifier, WorkflowRegistry } from '@llmbus/workflows';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { DraftHub } from './draft-hub';
import { RequestStatuses } from './request-statuses';
import type { RouterDeps } from './router-deps';
import { ROUTER_HTTP_CONTROLLERS } from './router-openapi';
import { RouterEventsController } from './router.events';
import { RouterRuntime } from './router-runtime';

/** The router stage: routes submitted requests and serves the HTTP ingress. */
@Module({})
export class RouterModule {
  /** Wires the router over the given bus, workflows, API keys and request statuses. */
  static forRoot(
    deps: RouterDeps,
    statuses = new RequestStatuses(deps.statusStore, deps.logger),
    drafts = new DraftHub(),
    classifier = new RequestClassifier(deps.classifierModels ?? {}),
  ): DynamicModule {
    const apiKeys = deps.apiKeys ?? deps.config.apiKeys;
    if (!apiKeys && !deps.config.oidc) {
      throw new ConfigError(
        'API_KEYS',
        '<key>:<tenant>:<role>[+<role>...][:<group>|<group>...] entries separated by "," (the HTTP ingress needs keys, or bearer JWTs: OIDC_ISSUER)',
        undefined,
      );
    }
    const workflows = routerWorkflows(deps);
    const runtime = new RouterRuntime(
      deps.bus,
      workflows,
      statuses,
      deps.logger,
      classifier,
      // The HTTP ingress has authenticated the tenant it publishes for: its source may assert any
      // tenant unless LLMBUS_TRUSTED_SOURCES names it.
      deps.config.trustedSources?.withDefault(deps.bus.ingressSource, [ANY_TENANT]),
      drafts,
    );
    return {
      module: RouterModule,
      imports: [LoggerModule.forRoot(httpLoggerParams(deps.logger))],
      controllers: [RouterEventsController, ...ROUTER_HTTP_CONTROLLERS],
      providers: [
        { provide: RouterRuntime, useValue: runtime },
        ...identityProviders(apiKeys, deps.config.oidc),
        { provide: READINESS_CHECK, useValue: statuses },
      ],
    };
  }
}

/** The workflows the router serves: deps.workflows, else the folder config.workflowsDir, else the repository's. */
export function routerWorkflows(deps: Pick<RouterDeps, 'workflows' | 'config'>): WorkflowRegistry {
  return deps.workflows ?? WorkflowRegistry.fromDirectory(deps.config.workflowsDir ?? DEFAULT_WORKFLOWS_DIR);
}
