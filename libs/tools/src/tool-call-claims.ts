/**
 * Durable execution claims of side-effecting tool calls (`write` and `high`). The gate takes the
 * claim of a call id before the call runs; a call whose claim already exists was started before
 * (by this process or one that died) and, unless its tool may be re-sent with the same
 * `Idempotency-Key`, is not run again: its outcome is unknown. A claim is never released: it
 * expires after its TTL, which must outlast every redelivery of the event that started the call.
 */
export interface ToolCallClaims {
  /**
   * Takes the claim on `key` for `ttlMs` milliseconds. Resolves `true` when this caller took it
   * (the call may run), `false` when it already existed (the call was started before). Rejects
   * when the store cannot answer: a call is never run without its claim.
   */
  claim(key: string, ttlMs: number): Promise<boolean>;
  close?(): Promise<void>;
}

/** How long a claim is kept by default: 7 days, in milliseconds (longer than any redelivery or approval). */
export const DEFAULT_TOOL_CLAIM_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * The claim store could not answer, so the call did not run. Retryable: the bus delivers the
 * event again later, and the call runs then, once, if its claim can be taken.
 */
export class ToolClaimUnavailableError extends Error {
  override readonly name = 'ToolClaimUnavailableError';
  readonly retryable = true;
  constructor(
    readonly callId: string,
    readonly tool: string,
    cause: unknown,
  ) {
    super(
      `the execution claim of tool call ${callId} (${tool}) could not be taken, so the call did not run: ${
        cause instanceof Error ? cause.message : String(cause)
      }; the event is retried (check the claim store, Redis at REDIS_URL)`,
      { cause },
    );
  }
}

/** The key of a call's claim: `<namespace><tenant>:<call id>` (call ids are unique per request). */
export function toolClaimKey(namespace: string, tenant: string, callId: string): string {
  return `${namespace}${encodeURIComponent(tenant)}:${callId}`;
}

/**
 * Claims in process memory, for the embedded mode (one process): they do not survive a restart
 * and are not shared between processes, so they protect against repeated deliveries within the
 * process only. At most `maxEntries` (default 100,000) are kept, the oldest dropped first.
 */
export class MemoryToolCallClaims implements ToolCallClaims {
  private readonly claims = new Map<string, number>();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  claim(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const expiresAt = this.claims.get(key);
    if (expiresAt !== undefined && expiresAt > now) return Promise.resolve(false);
    this.claims.delete(key);
    this.claims.set(key, now + ttlMs);
    while (this.claims.size > this.maxEntries) {
      const oldest = this.claims.keys().next().value;
      if (oldest === undefined) break;
      this.claims.delete(oldest);
    }
    return Promise.resolve(true);
  }
}

/** The Redis command a claim needs: `SET key value PX ttl NX` ('OK' when set, null when the key exists). */
export interface RedisClaimCommands {
  set(key: string, value: string, px: 'PX', ttlMs: number, nx: 'NX'): Promise<'OK' | null>;
  quit(): Promise<unknown>;
}

/**
 * Claims in Redis, shared by every generator replica and kept across restarts:
 * `SET <key> <taken-at ISO time> PX <ttl> NX`. A Redis error rejects the claim (never a silent
 * "taken"), so the caller fails the handling as retryable instead of running the call unclaimed.
 */
export class RedisToolCallClaims implements ToolCallClaims {
  constructor(
    private readonly redis: RedisClaimCommands,
    private readonly prefix = 'llmbus:tool-claim:',
  ) {}

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const reply = await this.redis.set(
      this.prefix + key,
      new Date().toISOString(),
      'PX',
      Math.max(1, Math.round(ttlMs)),
      'NX',
    );
    return reply === 'OK';
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
