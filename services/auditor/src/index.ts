import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import type { AuditorDeps } from './auditor-deps';
import { AUDITOR_OPENAPI_INFO } from './auditor-openapi';
import { AuditorModule } from './auditor.module';

export * from './auditor-deps';
export * from './auditor.module';
export { auditorOpenApiDocument } from './auditor-openapi';
export { AuditPrivacy } from './audit-privacy';

/** Bytes of events an auditor fetch waits for, up to LLMBUS_AUDIT_FETCH_WAIT_MS (a request's events carry ~15 kB). */
export const AUDITOR_FETCH_MIN_BYTES = 64 * 1024;

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
    // Off the requests' path, a fetch may wait for several events (LLMBUS_AUDIT_FETCH_WAIT_MS) so
    // that one group commit of the store and one offset commit serve many of them; statuses and the
    // request-id reuse check read the trail, so they see an event at most that much later.
    ...(deps.config.auditFetchWaitMs > 0 && {
      fetch: { minBytes: AUDITOR_FETCH_MIN_BYTES, maxWaitMs: deps.config.auditFetchWaitMs },
    }),
    httpPort: deps.config.http.port,
    httpHost: deps.config.http.host,
    openApi: AUDITOR_OPENAPI_INFO,
  });
}
export { auditorMetrics } from './auditor-metrics';
