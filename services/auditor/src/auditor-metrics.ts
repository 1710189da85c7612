import { Counter } from 'prom-client';

/** What the auditor saw, in the default registry; usage is counted once per recorded event. */
export const auditorMetrics = {
  recorded: new Counter({
    name: 'orchestrator_audit_events_total',
    help: 'Events the auditor consumed, by type and outcome (recorded, sanitised, duplicate).',
    labelNames: ['type', 'outcome'] as const,
  }),
  tokens: new Counter({
    name: 'orchestrator_model_tokens_total',
    help: 'Model tokens reported by recorded events, by stage, model and kind (prompt, completion).',
    labelNames: ['stage', 'model', 'kind'] as const,
  }),
  cost: new Counter({
    name: 'orchestrator_model_cost_usd_total',
    help: 'Model cost in US dollars reported by recorded events, by stage and model.',
    labelNames: ['stage', 'model'] as const,
  }),
};
