import type { FetchWait } from '@llmbus/bus';
import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import type { AuditorDeps } from './auditor-deps';
import { AUDITOR_OPENAPI_INFO } from './auditor-openapi';
import { AuditorModule } from './auditor.module';

export * from './auditor-deps';
export * from './auditor.module';
export { auditorOpenApiDocument } from './auditor-openapi';
export { AuditPrivacy } from './audit-privacy';

/**
 * How the auditor's fetches wait on Kafka: up to 250 ms for 64 KiB of events (a request's six
 * events carry about 15 kB), instead of answering for each event as it arrives. An event is
 * recorded at most that much later; no request waits for the auditor.
 */
export const AUDITOR_FETCH: FetchWait = { minBytes: 64 * 1024, maxWaitMs: 250 };

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
    // Off the requests' path: a fetch waits for several events (see AUDITOR_FETCH), so that one
    // group commit of the store and one offset commit serve many of them.
    fetch: AUDITOR_FETCH,
    httpPort: deps.config.http.port,
    httpHost: deps.config.http.host,
    openApi: AUDITOR_OPENAPI_INFO,
  });
}
export { auditorMetrics } from './auditor-metrics';
