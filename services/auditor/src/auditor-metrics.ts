import { Counter, Histogram } from 'prom-client';

// Label cardinality: tenant × workflow (`id@version`) × stage × model stays in the hundreds for a
// deployment of tens of tenants and workflows; request ids, users and free text are never labels.
// Histograms leave the tenant out, since each series there is one per bucket.

/** What the auditor saw, in the default registry; usage is counted once per recorded event. */
export const auditorMetrics = {
  recorded: new Counter({
    name: 'orchestrator_audit_events_total',
    help: 'Events the auditor consumed, by type and outcome (recorded, sanitised, duplicate).',
    labelNames: ['type', 'outcome'] as const,
  }),
  tokens: new Counter({
    name: 'orchestrator_model_tokens_total',
    help: 'Model tokens reported by recorded events, by tenant, workflow (id@version), stage, model and kind (prompt, completion).',
    labelNames: ['tenant', 'workflow', 'stage', 'model', 'kind'] as const,
  }),
  cost: new Counter({
    name: 'orchestrator_model_cost_usd_total',
    help: 'Model cost in US dollars reported by recorded events, by tenant, workflow (id@version), stage and model.',
    labelNames: ['tenant', 'workflow', 'stage', 'model'] as const,
  }),
  calls: new Counter({
    name: 'orchestrator_model_calls_total',
    help: 'Model calls reported by recorded events, by tenant, workflow (id@version), stage and model.',
    labelNames: ['tenant', 'workflow', 'stage', 'model'] as const,
  }),
  callDuration: new Histogram({
    name: 'orchestrator_model_call_duration_seconds',
    help: 'Wall time of model calls as the caller saw it (queueing and retries included), by workflow, stage and model.',
    labelNames: ['workflow', 'stage', 'model'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
  }),
  requests: new Counter({
    name: 'orchestrator_requests_total',
    help: 'Requests that ended, by tenant, workflow (id@version) and outcome (completed, reviewed, failed).',
    labelNames: ['tenant', 'workflow', 'outcome'] as const,
  }),
  requestCost: new Histogram({
    name: 'orchestrator_request_cost_usd',
    help: 'Model cost of a request in US dollars (its calls recorded by the time its outcome was), by workflow and outcome.',
    labelNames: ['workflow', 'outcome'] as const,
    buckets: [0, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  }),
  requestDuration: new Histogram({
    name: 'orchestrator_request_duration_seconds',
    help: 'Time from the first to the last recorded event of a request that ended, by workflow and outcome.',
    labelNames: ['workflow', 'outcome'] as const,
    buckets: [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 900, 3600],
  }),
};
