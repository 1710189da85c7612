import { canonicalDigest } from '@llmbus/contracts';
import { MemoryCache, RedisCache, type RedisCommands, tenantScopedKey } from './index';

describe('MemoryCache', () => {
  it('evicts the least recently used entry past maxEntries, a read counting as a use', async () => {
    const cache = new MemoryCache<number>({ maxEntries: 2 });
    await cache.set('a', 1, 60_000);
    await cache.set('b', 2, 60_000);
    expect(await cache.get('a')).toBe(1); // a is now the most recently used
    await cache.set('c', 3, 60_000);
    expect(await cache.get('b')).toBeUndefined();
    expect([await cache.get('a'), await cache.get('c')]).toEqual([1, 3]);
    expect(cache.size).toBe(2);
  });

  it('expires an entry at its ttl and stores nothing for a ttl of 0 or an entry over the size bound', async () => {
    let now = 1_000;
    const cache = new MemoryCache<string>({ maxEntryBytes: 10 }, () => now);
    await cache.set('k', 'short', 500);
    now += 499;
    expect(await cache.get('k')).toBe('short');
    now += 1;
    expect(await cache.get('k')).toBeUndefined();
    await cache.set('zero', 'x', 0);
    await cache.set('big', 'x'.repeat(20), 500);
    expect([await cache.get('zero'), await cache.get('big')]).toEqual([undefined, undefined]);
  });

  it('hands out copies: changing what was stored or read changes nothing in the cache', async () => {
    const cache = new MemoryCache<{ n: number }>();
    const value = { n: 1 };
    await cache.set('k', value, 60_000);
    value.n = 2;
    const read = await cache.get('k');
    read!.n = 3;
    expect(await cache.get('k')).toEqual({ n: 1 });
  });
});

describe('RedisCache', () => {
  function fakeRedis(failing = false) {
    const data = new Map<string, string>();
    const calls: string[] = [];
    const redis: RedisCommands = {
      get: (key) => (failing ? Promise.reject(new Error('down')) : Promise.resolve(data.get(key) ?? null)),
      set: (key, value, mode, ttl) => {
        calls.push(`${key} ${mode} ${ttl}`);
        if (failing) return Promise.reject(new Error('down'));
        data.set(key, value);
        return Promise.resolve('OK');
      },
      quit: () => Promise.resolve('OK'),
    };
    return { redis, calls };
  }

  it('stores JSON under its prefix with PX and reads it back', async () => {
    const { redis, calls } = fakeRedis();
    const cache = new RedisCache<{ a: number }>(redis, 'p:');
    await cache.set('k', { a: 1 }, 1500.4);
    expect(calls).toEqual(['p:k PX 1500']);
    expect(await cache.get('k')).toEqual({ a: 1 });
  });

  it('never fails the caller: a Redis error is a miss on get and ignored on set', async () => {
    const cache = new RedisCache<number>(fakeRedis(true).redis, 'p:');
    await expect(cache.set('k', 1, 1000)).resolves.toBeUndefined();
    await expect(cache.get('k')).resolves.toBeUndefined();
  });
});

describe('tenantScopedKey', () => {
  it('differs between tenants for the same material and is stable under key order', () => {
    const a = tenantScopedKey('acme', { q: 'x', k: 5 });
    expect(a).toBe(tenantScopedKey('acme', { k: 5, q: 'x' }));
    expect(a).not.toBe(tenantScopedKey('globex', { q: 'x', k: 5 }));
    expect(a.startsWith('acme:')).toBe(true);
    expect(tenantScopedKey('a:b', {}).startsWith('a%3Ab:')).toBe(true);
  });

  it('hashes with canonicalDigest, which refuses a value without a JSON form', () => {
    expect(canonicalDigest({ b: 1, a: [1.0, 'x'] })).toBe(canonicalDigest({ a: [1, 'x'], b: 1 }));
    expect(canonicalDigest({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
    expect(() => canonicalDigest(undefined)).toThrow(TypeError);
  });
});
