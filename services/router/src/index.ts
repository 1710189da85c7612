import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import { processPiiKey } from '@llmbus/pii';
import { DraftHub } from './draft-hub';
import { RequestStatuses } from './request-statuses';
import type { RouterDeps } from './router-deps';
import { ROUTER_OPENAPI_INFO } from './router-openapi';
import { RouterModule } from './router.module';
import { withRestoredPii } from './status-pii';

export * from './router-deps';
export * from './router.module';
export * from './request-statuses';
export { routerOpenApiDocument } from './router-openapi';
export type { SubmitResponse } from './requests.controller';

/**
 * Starts the router: its consumer of submitted requests and the HTTP ingress. Statuses are read
 * from the audit store on demand, so there is nothing to rebuild and no consumer group of its own.
 */
export async function startRouter(deps: RouterDeps): Promise<StageApp> {
  const piiKey = deps.config.piiKey ?? (deps.config.mode === 'embedded' ? processPiiKey() : undefined);
  const statuses = new RequestStatuses(withRestoredPii(deps.statusStore, piiKey), deps.logger);
  const drafts = new DraftHub();
  await drafts.start(deps.bus);
  let app: StageApp;
  try {
    app = await startStageApp({
      module: RouterModule.forRoot(deps, statuses, drafts),
      bus: deps.bus,
      stage: 'router',
      notifyRequester: true,
      httpPort: deps.httpPort ?? deps.config.http.port,
      httpHost: deps.config.http.host,
      openApi: ROUTER_OPENAPI_INFO,
    });
  } catch (error) {
    await drafts.close().catch(() => undefined);
    throw error;
  }
  // Logs at start whether statuses can be served; /healthz keeps asking until the store answers.
  void statuses.notReadyReason();
  return {
    ...app,
    close: async () => {
      await app.close();
      await drafts.close();
    },
  };
}
