import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import { processPiiKey } from '@llmbus/pii';
import { RequestClassifier } from '@llmbus/workflows';
import { RequestStatuses } from './request-statuses';
import type { RouterDeps } from './router-deps';
import { ROUTER_OPENAPI_INFO } from './router-openapi';
import { RouterModule, routerWorkflows } from './router.module';
import { withRestoredPii } from './status-pii';

export * from './router-deps';
export * from './router.module';
export * from './request-statuses';
export { classifierModels } from './classifier-models';
export { routerOpenApiDocument } from './router-openapi';
export type { SubmitResponse } from './requests.controller';

/**
 * Starts the router: its consumer of submitted requests and the HTTP ingress. Statuses are read
 * from the audit store on demand, so there is nothing to rebuild and no consumer group of its own.
 */
export async function startRouter(deps: RouterDeps): Promise<StageApp> {
  const piiKey = deps.config.piiKey ?? (deps.config.mode === 'embedded' ? processPiiKey() : undefined);
  const statuses = new RequestStatuses(withRestoredPii(deps.statusStore, piiKey), deps.logger);
  const workflows = routerWorkflows(deps);
  // Example vectors are computed once, before the first request: a classifier that cannot run
  // (no embedding model, a model that does not load) stops the start, naming the workflow.
  const classifier = new RequestClassifier(deps.classifierModels ?? {});
  await classifier.warm(workflows.list());
  const app = await startStageApp({
    module: RouterModule.forRoot({ ...deps, workflows }, statuses, classifier),
    bus: deps.bus,
    stage: 'router',
    notifyRequester: true,
    httpPort: deps.httpPort ?? deps.config.http.port,
    httpHost: deps.config.http.host,
    openApi: ROUTER_OPENAPI_INFO,
  });
  // Logs at start whether statuses can be served; /healthz keeps asking until the store answers.
  void statuses.notReadyReason();
  return app;
}
