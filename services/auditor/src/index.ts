import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import type { AuditorDeps } from './auditor-deps';
import { AUDITOR_OPENAPI_INFO } from './auditor-openapi';
import { AuditorModule } from './auditor.module';

export * from './auditor-deps';
export * from './auditor.module';
export { auditorOpenApiDocument } from './auditor-openapi';
export { AuditPrivacy } from './audit-privacy';

/** Starts the auditor: its consumer of every topic and its HTTP API on config.http. */
export function startAuditor(deps: AuditorDeps): Promise<StageApp> {
  return startStageApp({
    module: AuditorModule.forRoot(deps),
    bus: deps.bus,
    stage: 'auditor',
    // The auditor only observes: a rejected event is dead-lettered but never fails the request.
    notifyRequester: false,
    // The trail must be complete: while the audit store is down, events wait on the bus.
    onRetriesExhausted: 'redeliver',
    // Fetches answer at once (no FetchWait): request statuses, review queues and the request-id
    // reuse check read the trail, so a wait there would be a wait for the requester.
    httpPort: deps.config.http.port,
    httpHost: deps.config.http.host,
    openApi: AUDITOR_OPENAPI_INFO,
  });
}
export { auditorMetrics } from './auditor-metrics';
