import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import type { RouterDeps } from './router-deps';
import { RouterModule } from './router.module';

export * from './router-deps';
export * from './router.module';
export * from './request-status.store';
export type { SubmitResponse } from './requests.controller';

/** Starts the router: its consumer (requests, outcomes for the status API) and the HTTP ingress. */
export function startRouter(deps: RouterDeps): Promise<StageApp> {
  return startStageApp({
    module: RouterModule.forRoot(deps),
    bus: deps.bus,
    stage: 'router',
    notifyRequester: true,
    httpPort: deps.httpPort ?? deps.config.http.port,
    httpHost: deps.config.http.host,
  });
}
