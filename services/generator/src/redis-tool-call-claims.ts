import { newRedis } from '@llmbus/models';
import { RedisToolCallClaims } from '@llmbus/tools';

/** Longest wait for one claim command, in milliseconds; a slower Redis fails the handling as retryable. */
export const TOOL_CLAIM_COMMAND_TIMEOUT_MS = 5000;

/**
 * Execution claims of write/high tool calls in the Redis at `url` (`redis://host:port`), shared by
 * every generator replica and kept across restarts. A Redis that is down or slower than
 * TOOL_CLAIM_COMMAND_TIMEOUT_MS rejects the claim (one reconnect attempt, no queueing forever),
 * so the call is not run and the event is retried.
 */
export function redisToolCallClaims(url: string): RedisToolCallClaims {
  return new RedisToolCallClaims(
    newRedis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      commandTimeout: TOOL_CLAIM_COMMAND_TIMEOUT_MS,
    }),
  );
}
