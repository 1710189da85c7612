import { Counter, Gauge, Histogram } from 'prom-client';

/** How far a consumer group is behind one partition's end, in messages. */
export interface PartitionLag {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}

/** Something that can report the lag of the groups it consumes for (a transport's subscription). */
export type LagSource = () => Promise<readonly PartitionLag[]>;

const lagSources = new Set<LagSource>();

/** Reports a subscription's lag on every scrape until the returned function is called. */
export function registerLagSource(source: LagSource): () => void {
  lagSources.add(source);
  return () => lagSources.delete(source);
}

/** Bus-level Prometheus metrics, registered once per process in the default registry. */
export const busMetrics = {
  events: new Counter({
    name: 'orchestrator_events_total',
    help: 'Consumed events by stage, type and outcome (handled, duplicate, dead_lettered, aborted by shutdown).',
    labelNames: ['stage', 'type', 'outcome'] as const,
  }),
  latency: new Histogram({
    name: 'orchestrator_stage_latency_seconds',
    help: 'Time from receiving an event to publishing its outputs, by stage and event type.',
    labelNames: ['stage', 'type'] as const,
    buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  }),
  // Computed on scrape, so no timer runs while nobody is looking; autoscalers key on it.
  lag: new Gauge({
    name: 'orchestrator_consumer_lag',
    help: 'Messages between a consumer group committed offset and the end of each partition.',
    labelNames: ['group', 'topic', 'partition'] as const,
    async collect() {
      this.reset();
      const reports = await Promise.allSettled([...lagSources].map((source) => source()));
      for (const report of reports) {
        if (report.status !== 'fulfilled') continue;
        for (const p of report.value) {
          this.set({ group: p.groupId, topic: p.topic, partition: String(p.partition) }, p.lag);
        }
      }
    },
  }),
};
