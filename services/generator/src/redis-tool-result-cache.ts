import { RedisCache, type RedisCommands } from '@llmbus/cache';
import type { ToolResult } from '@llmbus/tools';

/**
 * Tool results in Redis, shared by every generator replica: `SET llmbus:cache:tool:<tenant>:<call
 * hash> <json> PX <ttl>` (see {@link RedisCache}: an error is a miss, never a failed call).
 */
export class RedisToolResultCache extends RedisCache<ToolResult> {
  constructor(redis: RedisCommands, prefix = 'llmbus:cache:tool:') {
    super(redis, prefix);
  }
}
