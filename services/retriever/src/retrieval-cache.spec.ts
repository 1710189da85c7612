import type { RetrievalRequest, RetrievalResult } from '@llmbus/retrieval';
import { MemoryRetrievalCacheBackend, RetrievalCache } from './retrieval-cache';

const request: RetrievalRequest = {
  tenant: 'acme',
  collections: ['policies', 'wiki'],
  topK: 5,
  query: 'How many days of annual leave?',
  groups: ['hr', 'staff'],
};

function resultFor(label: string): RetrievalResult {
  return {
    passages: [
      {
        id: `${label}-1`,
        documentId: label,
        collection: 'policies',
        title: label,
        sourceUri: `kb://${label}`,
        chunkIndex: 0,
        text: `passage for ${label}`,
        score: 0.9,
      },
    ],
    withheldCount: 0,
    relevance: 0.8,
    answerable: true,
    usage: {
      modelId: 'local/minilm',
      provider: 'local',
      promptTokens: 12,
      completionTokens: 0,
      costUsd: 0.000002,
      latencyMs: 30,
    },
  };
}

describe('RetrievalCache', () => {
  function setUp() {
    const cache = new RetrievalCache(new MemoryRetrievalCacheBackend(), 60_000);
    const computed: string[] = [];
    const lookup = (asked: RetrievalRequest) =>
      cache.lookup(asked, () => {
        const label = `${asked.tenant}|${asked.groups.join('+')}|${computed.length}`;
        computed.push(label);
        return Promise.resolve(resultFor(label));
      });
    return { cache, computed, lookup };
  }

  it('serves the same asker the same question from the cache, with the cost it saved', async () => {
    const { computed, lookup } = setUp();
    const first = await lookup(request);
    const second = await lookup({ ...request, groups: ['staff', 'hr', 'staff'] }); // same set of groups
    expect(computed).toHaveLength(1);
    expect(second.passages).toEqual(first.passages);
    expect(second.cached).toBe(true);
    expect(second.usage).toMatchObject({ cached: true, costUsd: 0, promptTokens: 0, costSavedUsd: 0.000002 });
  });

  it('never serves another tenant, or an asker with fewer or other groups', async () => {
    const { computed, lookup } = setUp();
    await lookup(request);
    const fewer = await lookup({ ...request, groups: ['staff'] });
    const other = await lookup({ ...request, tenant: 'globex' });
    const more = await lookup({ ...request, groups: ['hr', 'staff', 'legal'] });
    expect(computed).toHaveLength(4);
    for (const result of [fewer, other, more]) expect(result.cached).toBeUndefined();
    expect(fewer.passages[0]?.id).toBe('acme|staff|1-1');
    expect(other.passages[0]?.id).toBe('globex|hr+staff|2-1');
  });

  it('searches afresh once a document of a queried collection changed', async () => {
    const { cache, computed, lookup } = setUp();
    await lookup(request);
    await cache.invalidate('acme', 'handbooks'); // not queried: still cached
    expect((await lookup(request)).cached).toBe(true);
    await cache.invalidate('acme', 'wiki');
    expect((await lookup(request)).cached).toBeUndefined();
    expect(computed).toHaveLength(2);
    await cache.invalidate('globex', 'policies'); // another tenant's change does not touch acme's entries
    expect((await lookup(request)).cached).toBe(true);
  });
});
