import { ConfigError } from '@llmbus/config';
import { API_KEY_REGISTRY, OPS_CONTROLLERS, READINESS_CHECK } from '@llmbus/http-nest';
import { DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { RequestStatuses } from './request-statuses';
import { RequestsController } from './requests.controller';
import type { RouterDeps } from './router-deps';
import { RouterEventsController } from './router.events';
import { RouterRuntime } from './router-runtime';

/** The router stage: routes submitted requests and serves the HTTP ingress. */
@Module({})
export class RouterModule {
  /** Wires the router over the given bus, workflows, API keys and request statuses. */
  static forRoot(
    deps: RouterDeps,
    statuses = new RequestStatuses(deps.statusStore, deps.logger),
  ): DynamicModule {
    const apiKeys = deps.apiKeys ?? deps.config.apiKeys;
    if (!apiKeys) {
      throw new ConfigError(
        'API_KEYS',
        '<key>:<tenant>:<role>[+<role>...] entries separated by "," (the HTTP ingress needs keys)',
        undefined,
      );
    }
    const workflows =
      deps.workflows ?? WorkflowRegistry.fromDirectory(deps.config.workflowsDir ?? DEFAULT_WORKFLOWS_DIR);
    const runtime = new RouterRuntime(deps.bus, workflows, statuses, deps.logger);
    return {
      module: RouterModule,
      imports: [LoggerModule.forRoot({ pinoHttp: { logger: deps.logger } })],
      controllers: [RouterEventsController, RequestsController, ...OPS_CONTROLLERS],
      providers: [
        { provide: RouterRuntime, useValue: runtime },
        { provide: API_KEY_REGISTRY, useValue: apiKeys },
        { provide: READINESS_CHECK, useValue: statuses },
      ],
    };
  }
}
