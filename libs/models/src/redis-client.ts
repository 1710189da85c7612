import type { Redis, RedisOptions } from 'ioredis';

/**
 * A new ioredis client for `url` (redis://…) with `options`. ioredis is loaded on the first call,
 * so a process without REDIS_URL does not pay its load time at start-up (tens of ms of CPU).
 * Connection errors surface as ioredis reports them (with `lazyConnect`, on the first command).
 */
export function newRedis(url: string, options: RedisOptions): Redis {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Redis: RedisClient } = require('ioredis') as {
    Redis: new (url: string, options: RedisOptions) => Redis;
  };
  return new RedisClient(url, options);
}
