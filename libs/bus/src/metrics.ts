import { Counter, Histogram } from 'prom-client';

/** Bus-level Prometheus metrics, registered once per process in the default registry. */
export const busMetrics = {
  events: new Counter({
    name: 'orchestrator_events_total',
    help: 'Consumed events by stage, type and outcome (handled, duplicate, dead_lettered).',
    labelNames: ['stage', 'type', 'outcome'] as const,
  }),
  latency: new Histogram({
    name: 'orchestrator_stage_latency_seconds',
    help: 'Time from receiving an event to publishing its outputs, by stage and event type.',
    labelNames: ['stage', 'type'] as const,
    buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  }),
};
