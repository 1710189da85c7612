import type { Redis } from 'ioredis';

/**
 * One token bucket: `capacity` tokens, refilled continuously at `capacity` per minute (so a full
 * minute's allowance may be spent at once, then it trickles back). `cost` is what one call takes:
 * 1 for a requests-per-minute bucket, the call's tokens for a tokens-per-minute bucket.
 */
export interface BucketDemand {
  /** Store key, e.g. `model:openai/gpt-4o:tpm` or `tenant:acme:rpm`. */
  readonly key: string;
  /** Human name used in errors, e.g. `tenant acme requests per minute (60)`. */
  readonly name: string;
  readonly perMinute: number;
  readonly cost: number;
}

/** The outcome of a take: all buckets charged, or none and how long until all could be. */
export type TakeResult =
  | { readonly granted: true }
  | { readonly granted: false; readonly waitMs: number; readonly limiting: BucketDemand };

/**
 * Where token buckets live: in this process (embedded mode) or in Redis, shared by every replica
 * (distributed mode). `take` is all-or-nothing across the buckets given, so a call never holds a
 * tenant's allowance while waiting on a model's.
 */
export interface RateLimitStore {
  take(demands: readonly BucketDemand[]): Promise<TakeResult>;
  /** Charges `delta` more tokens (negative: refunds) once a call's real size is known; may go into debt. */
  settle(demand: BucketDemand, delta: number): Promise<void>;
  close(): Promise<void>;
}

const MS_PER_MINUTE = 60_000;

interface BucketState {
  tokens: number;
  at: number;
}

/** Token buckets in process memory: exact for one process (embedded mode, tests). */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly buckets = new Map<string, BucketState>();

  /** `now`: milliseconds, injectable for tests. */
  constructor(private readonly now: () => number = Date.now) {}

  take(demands: readonly BucketDemand[]): Promise<TakeResult> {
    const now = this.now();
    const refilled = demands.map((demand) => this.refill(demand, now));
    let worst: { waitMs: number; limiting: BucketDemand } | undefined;
    demands.forEach((demand, index) => {
      const tokens = refilled[index] ?? 0;
      if (tokens < demand.cost) {
        const waitMs = Math.ceil(((demand.cost - tokens) * MS_PER_MINUTE) / demand.perMinute);
        if (worst === undefined || waitMs > worst.waitMs) worst = { waitMs, limiting: demand };
      }
    });
    if (worst !== undefined) return Promise.resolve({ granted: false, ...worst });
    demands.forEach((demand, index) => {
      this.buckets.set(demand.key, { tokens: (refilled[index] ?? 0) - demand.cost, at: now });
    });
    return Promise.resolve({ granted: true });
  }

  settle(demand: BucketDemand, delta: number): Promise<void> {
    const now = this.now();
    const tokens = this.refill(demand, now);
    this.buckets.set(demand.key, { tokens: Math.min(demand.perMinute, tokens - delta), at: now });
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.buckets.clear();
    return Promise.resolve();
  }

  private refill(demand: BucketDemand, now: number): number {
    const state = this.buckets.get(demand.key);
    if (state === undefined) return demand.perMinute;
    const elapsed = Math.max(0, now - state.at);
    return Math.min(demand.perMinute, state.tokens + (elapsed * demand.perMinute) / MS_PER_MINUTE);
  }
}

// All-or-nothing take over N buckets, on Redis's own clock (TIME) so replicas with skewed clocks
// agree. KEYS: bucket keys. ARGV: per bucket perMinute, cost. Returns {1} or {0, waitMs, index}.
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = {}
local worstWait, worstIndex = -1, 0
for i = 1, #KEYS do
  local cap = tonumber(ARGV[(i - 1) * 2 + 1])
  local cost = tonumber(ARGV[(i - 1) * 2 + 2])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local have = tonumber(state[1])
  local at = tonumber(state[2])
  if have == nil then have = cap; at = now end
  if now > at then have = math.min(cap, have + (now - at) * cap / 60000) end
  tokens[i] = have
  if have < cost then
    local wait = math.ceil((cost - have) * 60000 / cap)
    if wait > worstWait then worstWait = wait; worstIndex = i end
  end
end
if worstIndex > 0 then return {0, worstWait, worstIndex} end
for i = 1, #KEYS do
  local cap = tonumber(ARGV[(i - 1) * 2 + 1])
  local cost = tonumber(ARGV[(i - 1) * 2 + 2])
  redis.call('HSET', KEYS[i], 'tokens', tostring(tokens[i] - cost), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[i], 120000)
end
return {1}
`;

// Refill, then charge delta (may refund). KEYS[1]: bucket. ARGV: perMinute, delta.
const SETTLE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local delta = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local have = tonumber(state[1])
local at = tonumber(state[2])
if have == nil then have = cap; at = now end
if now > at then have = math.min(cap, have + (now - at) * cap / 60000) end
redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(cap, have - delta)), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 120000)
return 1
`;

type ScriptedRedis = Redis & {
  llmbusTake(...args: (string | number)[]): Promise<[number, number?, number?]>;
  llmbusSettle(key: string, perMinute: number, delta: number): Promise<number>;
};

/**
 * Token buckets in Redis, shared by every replica: each take is one Lua script run atomically on
 * the server (EVALSHA), on the server's clock. Keys are `<prefix><bucket key>` and expire two
 * minutes after their last use. Errors from Redis reject the take (the caller fails the call as
 * `unavailable`; limits are never silently skipped).
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly prefix = 'llmbus:ratelimit:',
  ) {
    redis.defineCommand('llmbusTake', { lua: TAKE_SCRIPT });
    redis.defineCommand('llmbusSettle', { lua: SETTLE_SCRIPT, numberOfKeys: 1 });
    this.redis = redis as ScriptedRedis;
  }

  async take(demands: readonly BucketDemand[]): Promise<TakeResult> {
    if (demands.length === 0) return { granted: true };
    const keys = demands.map((demand) => this.prefix + demand.key);
    const args = demands.flatMap((demand) => [demand.perMinute, demand.cost]);
    const [granted, waitMs, index] = await this.redis.llmbusTake(keys.length, ...keys, ...args);
    if (granted === 1) return { granted: true };
    const limiting = demands[(index ?? 1) - 1] ?? demands[0];
    return { granted: false, waitMs: waitMs ?? 0, limiting: limiting as BucketDemand };
  }

  async settle(demand: BucketDemand, delta: number): Promise<void> {
    if (delta === 0) return;
    await this.redis.llmbusSettle(this.prefix + demand.key, demand.perMinute, delta);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
