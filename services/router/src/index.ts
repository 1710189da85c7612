import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import { RequestStatusStore } from './request-status.store';
import type { RouterDeps } from './router-deps';
import { RouterModule } from './router.module';
import { statusFeedHandlers } from './status-feed';

export * from './router-deps';
export * from './router.module';
export * from './request-status.store';
export type { SubmitResponse } from './requests.controller';

/** Starts the router: its consumer of submitted requests, its status feed and the HTTP ingress. */
export async function startRouter(deps: RouterDeps): Promise<StageApp> {
  const statuses = deps.statuses ?? new RequestStatusStore();
  const app = await startStageApp({
    module: RouterModule.forRoot({ ...deps, statuses }),
    bus: deps.bus,
    stage: 'router',
    notifyRequester: true,
    httpPort: deps.httpPort ?? deps.config.http.port,
    httpHost: deps.config.http.host,
  });
  const instance = `${hostname()}.${process.pid}.${randomBytes(3).toString('hex')}`;
  const feed = await deps.bus.subscribe({
    stage: 'router',
    groupId: `${deps.bus.topicPrefix}llmbus.router.status.${instance}`,
    // Outcome events are the pipeline's own; the stage that rejects a bad one tells the requester.
    notifyRequester: false,
    handlers: statusFeedHandlers(statuses),
  });
  return {
    ...app,
    close: async () => {
      await feed.close();
      await app.close();
    },
  };
}
