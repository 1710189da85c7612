// The two sizes of the fault suite: `short` (CI, a few minutes on 2 cores) and `full` (longer
// phases, every stage paused, more fuzz). Chosen with CHAOS_PROFILE.

/** How long and how hard the suite runs. Durations in milliseconds. */
export interface ChaosProfile {
  readonly name: 'short' | 'full';
  /** Requests per second of the steady load. */
  readonly ratePerSecond: number;
  /** Load before a fault is injected (requests in flight when it hits). */
  readonly beforeFaultMs: number;
  /** Load after the faulted part is ready again. */
  readonly afterFaultMs: number;
  /** Stages paused (SIGSTOP) past their session timeout, one phase each. */
  readonly pausedStages: readonly string[];
  /** How long the model answers 500/429 to 30% of calls. */
  readonly modelFaultMs: number;
  /** Consumer session timeout of every stage (a paused stage is evicted after it). */
  readonly sessionTimeoutMs: number;
  /** Deadline for every sent request to reach a final outcome once the load stopped. */
  readonly drainMs: number;
  /** Deadline for the audit store to hold every trail after the drain. */
  readonly trailMs: number;
  /** Malformed events of the fuzz run. */
  readonly fuzzCount: number;
  /** A valid request is interleaved after this many malformed ones. */
  readonly validEvery: number;
}

const SHORT: ChaosProfile = {
  name: 'short',
  ratePerSecond: 3,
  beforeFaultMs: 3000,
  afterFaultMs: 4000,
  pausedStages: ['generator'],
  modelFaultMs: 12_000,
  sessionTimeoutMs: 10_000,
  drainMs: 120_000,
  trailMs: 60_000,
  fuzzCount: 1000,
  validEvery: 25,
};

const FULL: ChaosProfile = {
  name: 'full',
  ratePerSecond: 5,
  beforeFaultMs: 10_000,
  afterFaultMs: 20_000,
  pausedStages: ['router', 'retriever', 'generator', 'validator', 'auditor'],
  modelFaultMs: 60_000,
  sessionTimeoutMs: 10_000,
  drainMs: 300_000,
  trailMs: 120_000,
  fuzzCount: 5000,
  validEvery: 25,
};

/** The profile named by CHAOS_PROFILE (default `short`); throws naming the variable for another value. */
export function chaosProfile(env: NodeJS.ProcessEnv = process.env): ChaosProfile {
  const name = env.CHAOS_PROFILE ?? 'short';
  if (name === 'short') return SHORT;
  if (name === 'full') return FULL;
  throw new Error(`CHAOS_PROFILE=${name} is not one of: short, full`);
}
