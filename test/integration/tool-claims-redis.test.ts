// Execution claims of write/high tool calls on a real Redis, as generator replicas share them:
// exactly one of several concurrent claims of a call id wins, the claim carries its TTL, and a
// Redis that cannot be reached rejects the claim (so no call runs unclaimed) instead of hanging.
import { randomBytes } from 'node:crypto';
import { redisToolCallClaims } from '@llmbus/svc-generator';
import { redisUrl } from '../support/env';
import { Redis } from 'ioredis';

describe('tool call claims on Redis', () => {
  const replicas = [0, 1, 2].map(() => redisToolCallClaims(redisUrl()));
  const inspect = new Redis(redisUrl());
  afterAll(async () => {
    await Promise.all(replicas.map((claims) => claims.close()));
    await inspect.quit();
  });

  it('lets exactly one replica take a call id, keeps the claim for its TTL, and other call ids are free', async () => {
    const key = `it-${randomBytes(6).toString('hex')}:req.a1.t1.0`;
    const taken = await Promise.all(replicas.map((claims) => claims.claim(key, 60_000)));
    expect(taken.filter(Boolean)).toHaveLength(1);
    expect(await replicas[0]!.claim(key, 60_000)).toBe(false);
    const ttl = await inspect.pttl(`llmbus:tool-claim:${key}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await replicas[1]!.claim(`${key}.other`, 60_000)).toBe(true);
  });

  it('rejects a claim when Redis cannot be reached', async () => {
    // Nothing listens on this port (the test range 47000-47999 is ours).
    const down = redisToolCallClaims('redis://127.0.0.1:47999');
    try {
      await expect(down.claim('t:c', 1000)).rejects.toThrow();
    } finally {
      await down.close();
    }
  });
});
