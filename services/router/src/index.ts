import { hostname } from 'node:os';
import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import { processPiiKey } from '@llmbus/pii';
import { RequestClassifier } from '@llmbus/workflows';
import { DraftHub } from './draft-hub';
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
  const statuses = new RequestStatuses(
    withRestoredPii(deps.statusStore, piiKey, deps.config.piiPreviousKeys),
    deps.logger,
  );
  const workflows = routerWorkflows(deps);
  // A classifier without its model stops the start, naming the workflow. The examples' vectors
  // are computed once, starting now, without holding up the ingress and status reads; the first
  // classification waits for them (and tries again if this attempt failed).
  const classifier = new RequestClassifier(deps.classifierModels ?? {});
  classifier.requireModels(workflows.list());
  void classifier.warm(workflows.list()).then(
    () => deps.logger.info('classifier examples embedded'),
    (error: unknown) =>
      deps.logger.warn(
        { err: error },
        'classifier examples could not be embedded yet; the first request retries',
      ),
  );
  const drafts = new DraftHub();
  const port = deps.httpPort ?? deps.config.http.port;
  // Host and port name this replica across restarts (port 0 is any free port: then the pid).
  await drafts.start(deps.bus, `${hostname()}.${port === 0 ? `pid${process.pid}` : port}`);
  let app: StageApp;
  try {
    app = await startStageApp({
      module: RouterModule.forRoot({ ...deps, workflows }, statuses, drafts, classifier),
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
