// The retrieval cache on a real Redis, as two retriever replicas share it: a result one replica
// stored is served by the other to the same asker only, and a document change seen by either
// replica retires it for both.
import { randomBytes } from 'node:crypto';
import type { RetrievalRequest, RetrievalResult } from '@llmbus/retrieval';
import { RedisRetrievalCacheBackend, RetrievalCache } from '@llmbus/svc-retriever';
import { Redis } from 'ioredis';
import { redisUrl } from '../support/env';

const result: RetrievalResult = {
  passages: [],
  withheldCount: 2,
  relevance: 0.1,
  answerable: false,
};

describe('retrieval cache on Redis, shared by replicas', () => {
  const replicas = [0, 1].map(
    () => new RetrievalCache(new RedisRetrievalCacheBackend(new Redis(redisUrl())), 60_000),
  );
  afterAll(() => Promise.all(replicas.map((cache) => cache.close())));

  it('serves one replica’s result on the other to the same asker only, until a document changes', async () => {
    const tenant = `t-${randomBytes(4).toString('hex')}`;
    const request: RetrievalRequest = {
      tenant,
      collections: ['policies'],
      topK: 5,
      query: 'travel per diem',
      groups: ['finance'],
    };
    let computed = 0;
    const compute = () => ((computed += 1), Promise.resolve(result));
    const [a, b] = replicas as [RetrievalCache, RetrievalCache];

    await a.lookup(request, compute);
    expect((await b.lookup(request, compute)).cached).toBe(true);
    expect((await b.lookup({ ...request, groups: [] }, compute)).cached).toBeUndefined();
    expect((await b.lookup({ ...request, tenant: `${tenant}-other` }, compute)).cached).toBeUndefined();
    expect(computed).toBe(3);

    await b.invalidate(tenant, 'policies');
    expect((await a.lookup(request, compute)).cached).toBeUndefined();
    expect(computed).toBe(4);
    expect((await b.lookup(request, compute)).cached).toBe(true);
  });
});
