import type { ToolResult, ToolResultCache } from '@llmbus/tools';
import type { Redis } from 'ioredis';

/**
 * Tool results in Redis, shared by every generator replica: `SET <prefix><tenant>:<call hash>
 * <json> PX <ttl>`. A Redis error on a read is a miss and on a write is ignored: the cache never
 * fails a call.
 */
export class RedisToolResultCache implements ToolResultCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'llmbus:cache:tool:',
  ) {}

  async get(key: string): Promise<ToolResult | undefined> {
    const json = await this.redis.get(this.prefix + key).catch(() => null);
    return json === null ? undefined : (JSON.parse(json) as ToolResult);
  }

  async set(key: string, result: ToolResult, ttlMs: number): Promise<void> {
    await this.redis
      .set(this.prefix + key, JSON.stringify(result), 'PX', Math.round(ttlMs))
      .catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
