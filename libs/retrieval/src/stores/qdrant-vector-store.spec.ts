import type { Schemas } from '@qdrant/js-client-rest' with { 'resolution-mode': 'import' };
import { RetrievalError } from '../errors';
import type { ChunkPayload } from '../vector-store';
import { isTransientQdrantError } from './qdrant-errors';
import { deletionFilter, pointFilter, readableBy, scopeFilter } from './qdrant-filters';
import { lexicalRequest, QdrantApi, QdrantVectorStore } from './qdrant-vector-store';

// The conformance suite runs this adapter against a real Qdrant when QDRANT_URL is set
// (test/integration/vector-store-qdrant.test.ts). These tests pin what can be checked without one:
// the filters sent, and the retry policy.

const payload: ChunkPayload = {
  tenant: 'a',
  collection: 'wiki',
  aclGroups: [],
  documentId: 'd',
  version: 1,
  title: 't',
  sourceUri: 'u',
  sectionPath: [],
  chunkIndex: 0,
  contentHash: 'h',
  text: 'x',
};

function fakeClient(overrides: Partial<Record<keyof QdrantApi, jest.Mock>>): QdrantApi {
  const unexpected = () =>
    jest.fn(async () => {
      throw new Error('unexpected call');
    });
  return {
    collectionExists: unexpected(),
    getCollection: unexpected(),
    createCollection: unexpected(),
    deleteCollection: unexpected(),
    createPayloadIndex: unexpected(),
    upsert: unexpected(),
    query: unexpected(),
    queryBatch: unexpected(),
    count: unexpected(),
    scroll: unexpected(),
    delete: unexpected(),
    ...overrides,
  } as unknown as QdrantApi;
}

const refused = () =>
  Object.assign(new TypeError('fetch failed'), {
    cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  });
const httpError = (status: number) =>
  Object.assign(new Error('Bad'), { status, data: { status: { error: `status ${status}` } } });

describe('Qdrant filters', () => {
  it('puts tenant, collections and the ACL condition inside the query filter', () => {
    expect(scopeFilter({ tenant: 'acme', collections: ['wiki', 'hr'] }, ['staff'])).toEqual({
      must: [
        { key: 'tenant', match: { value: 'acme' } },
        { key: 'collection', match: { any: ['wiki', 'hr'] } },
        { should: [{ is_empty: { key: 'aclGroups' } }, { key: 'aclGroups', match: { any: ['staff'] } }] },
      ],
    });
  });

  it('lets a requester without groups read only points without ACL groups', () => {
    expect(readableBy([])).toEqual({ should: [{ is_empty: { key: 'aclGroups' } }] });
  });

  it('ranks without the ACL condition but never without the tenant', () => {
    const filter = scopeFilter({ tenant: 'acme', collections: ['wiki'] });
    expect(filter.must).toEqual([
      { key: 'tenant', match: { value: 'acme' } },
      { key: 'collection', match: { any: ['wiki'] } },
    ]);
  });

  it('counts by ids within the tenant, with the ACL condition when groups are given', () => {
    expect(pointFilter({ tenant: 'acme', ids: ['i1'], groups: ['hr'] })).toEqual({
      must: [{ key: 'tenant', match: { value: 'acme' } }, { has_id: ['i1'] }, readableBy(['hr'])],
    });
  });

  it('deletes all of a document but the kept version below its chunk count', () => {
    expect(deletionFilter({ tenant: 'acme', documentId: 'd', keep: { version: 2, chunkCount: 3 } })).toEqual({
      must: [
        { key: 'tenant', match: { value: 'acme' } },
        { key: 'documentId', match: { value: 'd' } },
      ],
      must_not: [
        {
          must: [
            { key: 'version', match: { value: 2 } },
            { key: 'chunkIndex', range: { lt: 3 } },
          ],
        },
      ],
    });
  });
});

describe('QdrantVectorStore', () => {
  it('retries refused connections and 5xx with backoff, then succeeds', async () => {
    const upsert = jest
      .fn()
      .mockRejectedValueOnce(refused())
      .mockRejectedValueOnce(httpError(503))
      .mockResolvedValue({ status: 'completed' });
    const store = new QdrantVectorStore({
      url: 'http://unused',
      retryDelayMs: 1,
      client: fakeClient({ upsert }),
    });
    await store.upsert('chunks_m_4', [
      { id: '6f1c0b0a-0000-4000-8000-000000000001', vector: [1, 0, 0, 0], payload },
    ]);
    expect(upsert).toHaveBeenCalledTimes(3);
    expect(upsert.mock.calls[0][1]).toMatchObject({
      wait: true,
      points: [{ id: '6f1c0b0a-0000-4000-8000-000000000001', payload: { tenant: 'a' } }],
    });
  });

  it('gives up after the configured attempts with a retryable store_unavailable error', async () => {
    const query = jest.fn().mockRejectedValue(refused());
    const store = new QdrantVectorStore({
      url: 'http://unused',
      attempts: 3,
      retryDelayMs: 1,
      client: fakeClient({ query }),
    });
    const failure = store.search('chunks_m_4', [1, 0, 0, 0], {
      tenant: 'a',
      collections: ['wiki'],
      groups: [],
      limit: 3,
    });
    await expect(failure).rejects.toMatchObject({ code: 'store_unavailable', retryable: true });
    await expect(failure).rejects.toThrow(/after 3 attempts.*ECONNREFUSED/);
    expect(query).toHaveBeenCalledTimes(3);
  });

  it('does not retry a request Qdrant rejects', async () => {
    const upsert = jest.fn().mockRejectedValue(httpError(400));
    const store = new QdrantVectorStore({
      url: 'http://unused',
      retryDelayMs: 1,
      client: fakeClient({ upsert }),
    });
    await expect(store.upsert('chunks_m_4', [{ id: 'x', vector: [1], payload }])).rejects.toMatchObject({
      code: 'store_rejected',
      retryable: false,
    });
    expect(upsert).toHaveBeenCalledTimes(1);
  });

  it('reads a missing collection as empty', async () => {
    const query = jest.fn().mockRejectedValue(httpError(404));
    const count = jest.fn().mockRejectedValue(httpError(404));
    const store = new QdrantVectorStore({ url: 'http://unused', client: fakeClient({ query, count }) });
    expect(await store.rankIds('chunks_m_4', [1], { tenant: 'a', collections: ['wiki'], limit: 3 })).toEqual(
      [],
    );
    expect(await store.count('chunks_m_4', { tenant: 'a' })).toBe(0);
  });

  it('creates a missing collection with a named cosine vector, a sparse BM25 vector with IDF, and the filter indexes', async () => {
    const createCollection = jest.fn().mockResolvedValue(true);
    const createPayloadIndex = jest.fn().mockResolvedValue({});
    const client = fakeClient({
      collectionExists: jest.fn().mockResolvedValue({ exists: false }),
      createCollection,
      getCollection: jest.fn().mockResolvedValue({
        config: {
          params: {
            vectors: { dense: { size: 4, distance: 'Cosine' } },
            sparse_vectors: { lexical: { modifier: 'idf' } },
          },
        },
        payload_schema: { tenant: {} },
      }),
      createPayloadIndex,
    });
    const store = new QdrantVectorStore({ url: 'http://unused', client });
    await store.ensureCollection('chunks_m_4', 4);
    await store.ensureCollection('chunks_m_4', 4);
    expect(createCollection).toHaveBeenCalledTimes(1);
    const created: Parameters<QdrantApi['createCollection']>[1] = {
      vectors: { dense: { size: 4, distance: 'Cosine' } },
      sparse_vectors: { lexical: { modifier: 'idf' } },
    };
    expect(createCollection.mock.calls[0]).toEqual(['chunks_m_4', created]);
    expect(createPayloadIndex.mock.calls.map((c) => c[1].field_name)).toEqual([
      'collection',
      'aclGroups',
      'documentId',
      'version',
      'chunkIndex',
      'withdrawn.tenant',
    ]);
    await expect(
      new QdrantVectorStore({ url: 'http://unused', client }).ensureCollection('chunks_m_4', 8),
    ).rejects.toBeInstanceOf(RetrievalError);
  });

  it('refuses a collection created before hybrid search (no sparse vector), saying to re-ingest', async () => {
    const client = fakeClient({
      collectionExists: jest.fn().mockResolvedValue({ exists: true }),
      getCollection: jest.fn().mockResolvedValue({
        config: { params: { vectors: { size: 4, distance: 'Cosine' } } },
        payload_schema: {},
      }),
    });
    const store = new QdrantVectorStore({ url: 'http://unused', client });
    await expect(store.ensureCollection('chunks_m_4', 4)).rejects.toThrow(
      /no sparse vector "lexical".*ingest/,
    );
  });

  it('upserts each point with its dense vector and a BM25 document of title, headings and text', async () => {
    const upsert = jest.fn().mockResolvedValue({});
    const store = new QdrantVectorStore({ url: 'http://unused', client: fakeClient({ upsert }) });
    const point = {
      id: '00000000-0000-0000-0000-000000000001',
      vector: [0.1, 0.2],
      payload: { ...payload, title: 'Travel policy', sectionPath: ['Hotels'], text: 'Capped at 180 euros.' },
    };
    await store.upsert('chunks_m_4', [point]);
    const request = upsert.mock.calls[0][1] as { points: Schemas['PointStruct'][] };
    const vector: Schemas['VectorStruct'] = {
      dense: [0.1, 0.2],
      lexical: {
        text: 'Travel policy\nHotels\nCapped at 180 euros.',
        model: 'qdrant/bm25',
        options: { language: 'english', avg_len: 100 },
      },
    };
    expect(request.points[0]?.vector).toEqual(vector);
  });

  it('searches a hybrid query in one batch request: the dense query and the BM25 query, both filtered by tenant and ACL, and the BM25 matches below minScore left out', async () => {
    const scored = (id: string, score: number) => ({ id, version: 1, score, payload });
    const queryBatch = jest.fn().mockResolvedValue([
      { points: [scored('v1', 0.8)] },
      { points: [scored('l1', 7.5), scored('l2', 3), scored('l3', 2)] },
      // The BM25 matches at least minScore similar to the vector: l3 and l1, not l2.
      { points: [scored('l3', 0.5), scored('l1', 0.25)] },
    ]);
    const store = new QdrantVectorStore({ url: 'http://unused', client: fakeClient({ queryBatch }) });
    const lists = await store.hybridSearch('chunks_m_4', [0.1, 0.2], {
      tenant: 'a',
      collections: ['wiki'],
      groups: ['hr'],
      limit: 30,
      minScore: 0.2,
      text: 'hotel policies',
    });
    expect(lists.vector.map((c) => [c.id, c.score])).toEqual([['v1', 0.8]]);
    expect(lists.lexical.map((c) => [c.id, c.score])).toEqual([
      ['l1', 7.5],
      ['l3', 2],
    ]);
    expect(queryBatch).toHaveBeenCalledTimes(1);
    const filter = scopeFilter({ tenant: 'a', collections: ['wiki'] }, ['hr']);
    const body: Parameters<QdrantApi['queryBatch']>[1] = {
      searches: [
        {
          query: [0.1, 0.2],
          using: 'dense',
          filter,
          limit: 30,
          score_threshold: 0.2,
          with_payload: true,
          with_vector: false,
        },
        {
          query: {
            text: 'hotel policies',
            model: 'qdrant/bm25',
            options: { language: 'english', avg_len: 100 },
          },
          using: 'lexical',
          filter,
          limit: 30,
          with_payload: true,
          with_vector: false,
        },
        {
          prefetch: {
            query: {
              text: 'hotel policies',
              model: 'qdrant/bm25',
              options: { language: 'english', avg_len: 100 },
            },
            using: 'lexical',
            filter,
            limit: 30,
          },
          query: [0.1, 0.2],
          using: 'dense',
          limit: 30,
          score_threshold: 0.2,
          with_payload: false,
          with_vector: false,
        },
      ],
    };
    expect(queryBatch.mock.calls[0]).toEqual(['chunks_m_4', body]);
  });

  it('ranks for the withheld count in the same batch (ACLs ignored, ids only), then counts with the groups', async () => {
    const scored = (id: string, score: number) => ({ id, version: 1, score, payload });
    const queryBatch = jest.fn().mockResolvedValue([
      { points: [scored('v1', 0.8)] },
      { points: [] },
      {
        points: [
          { id: 'r1', version: 1, score: 0.9 },
          { id: 'v1', version: 1, score: 0.8 },
        ],
      },
    ]);
    const count = jest.fn().mockResolvedValue({ count: 1 });
    const store = new QdrantVectorStore({ url: 'http://unused', client: fakeClient({ queryBatch, count }) });
    const lists = await store.hybridSearch('chunks_m_4', [0.1, 0.2], {
      tenant: 'a',
      collections: ['wiki'],
      groups: ['hr'],
      limit: 30,
      minScore: 0.2,
      text: 'hotel',
      withheld: { limit: 5, minScore: 0.3 },
    });
    expect(lists.withheld).toBe(1);
    expect(queryBatch.mock.calls[0][1].searches[2]).toEqual({
      query: [0.1, 0.2],
      using: 'dense',
      filter: scopeFilter({ tenant: 'a', collections: ['wiki'] }),
      limit: 5,
      score_threshold: 0.3,
      with_payload: false,
      with_vector: false,
    });
    expect(count.mock.calls[0][1]).toEqual({
      filter: pointFilter({ tenant: 'a', ids: ['r1', 'v1'], groups: ['hr'] }),
      exact: true,
    });
  });

  it('sends no BM25 query for text without words, and nothing for an empty scope', async () => {
    const queryBatch = jest.fn().mockResolvedValue([{ points: [] }]);
    const store = new QdrantVectorStore({ url: 'http://unused', client: fakeClient({ queryBatch }) });
    const scope = { tenant: 'a', collections: ['wiki'], groups: [], limit: 5 };
    await store.hybridSearch('chunks_m_4', [1, 0], { ...scope, text: '?!' });
    expect(queryBatch.mock.calls[0][1].searches).toHaveLength(1);
    expect(lexicalRequest({ ...scope, text: '?!' })).toBeUndefined();
    expect(await store.hybridSearch('chunks_m_4', [1, 0], { ...scope, collections: [], text: 'x' })).toEqual({
      vector: [],
      lexical: [],
    });
    expect(queryBatch).toHaveBeenCalledTimes(1);
  });

  it("records a wholly deleted document's newest supersedes, before deleting it, as a point without vectors matched by no tenant filter", async () => {
    const chunk = (version: number, supersedes: string[]) => ({
      id: `p${version}`,
      payload: { ...payload, documentId: 'p-2024', version, supersedes },
    });
    const scroll = jest.fn().mockResolvedValue({
      points: [chunk(2, ['p-2023']), chunk(1, ['p-2022'])],
      next_page_offset: null,
    });
    const del = jest.fn().mockResolvedValue({});
    const upsert = jest.fn().mockResolvedValue({});
    const store = new QdrantVectorStore({
      url: 'http://unused',
      client: fakeClient({ scroll, delete: del, upsert }),
    });
    await store.deleteByFilter('chunks_m_4', { tenant: 'a', documentId: 'p-2024' });
    expect(scroll.mock.calls[0][1].filter).toEqual(deletionFilter({ tenant: 'a', documentId: 'p-2024' }));
    expect(del).toHaveBeenCalledTimes(1);
    // Links first: a query between the two requests still sees the document's own.
    expect(upsert.mock.invocationCallOrder[0]).toBeLessThan(del.mock.invocationCallOrder[0]);
    const [[, written]] = upsert.mock.calls;
    expect(written.points).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/),
        vector: {},
        payload: {
          withdrawn: { tenant: 'a', collection: 'wiki', documentId: 'p-2024' },
          supersedes: ['p-2023'],
        },
      },
    ]);
    // Withdrawing it again replaces the same point; replacing a version (keep) records nothing.
    await store.deleteByFilter('chunks_m_4', { tenant: 'a', documentId: 'p-2024' });
    expect(upsert.mock.calls[1][1].points[0].id).toBe(written.points[0].id);
    await store.deleteByFilter('chunks_m_4', {
      tenant: 'a',
      documentId: 'p-2024',
      keep: { version: 2, chunkCount: 1 },
    });
    expect(scroll).toHaveBeenCalledTimes(2);
    expect(upsert).toHaveBeenCalledTimes(2);
  });

  it("lists the newest version's links of each readable document, then withdrawn ones not stored again", async () => {
    const live = (id: string, documentId: string, version: number, extra: Partial<ChunkPayload>) => ({
      id,
      payload: { ...payload, documentId, version, ...extra },
    });
    const link = (documentId: string, supersedes: string[]) => ({
      id: documentId,
      payload: { withdrawn: { tenant: 'a', collection: 'wiki', documentId }, supersedes },
    });
    const scroll = jest
      .fn()
      .mockResolvedValueOnce({
        points: [
          live('1', 'p-2025', 1, { supersedes: ['p-2023'] }),
          live('2', 'p-2025', 2, {
            supersedes: ['p-2024'],
            effectiveDate: '2025-01-01',
            versionLabel: 'FY25',
          }),
        ],
        next_page_offset: null,
      })
      .mockResolvedValueOnce({
        points: [link('p-2024', ['p-2023']), link('x', ['w'])],
        next_page_offset: null,
      })
      .mockResolvedValueOnce({ points: [live('3', 'x', 1, {})], next_page_offset: null });
    const store = new QdrantVectorStore({ url: 'http://unused', client: fakeClient({ scroll }) });
    expect(
      await store.supersessions('chunks_m_4', { tenant: 'a', collections: ['wiki'], groups: [] }),
    ).toEqual([
      { documentId: 'p-2024', supersedes: ['p-2023'], withdrawn: true },
      { documentId: 'p-2025', supersedes: ['p-2024'], effectiveDate: '2025-01-01', versionLabel: 'FY25' },
    ]);
    expect(scroll.mock.calls[1][1].filter).toEqual({
      must: [
        { key: 'withdrawn.tenant', match: { value: 'a' } },
        { key: 'withdrawn.collection', match: { any: ['wiki'] } },
      ],
      must_not: [{ is_empty: { key: 'supersedes' } }],
    });
    expect(scroll.mock.calls[2][1].filter).toEqual({
      must: [
        { key: 'tenant', match: { value: 'a' } },
        { key: 'documentId', match: { any: ['p-2024', 'x'] } },
      ],
    });
  });

  it('classifies transient faults', () => {
    expect(isTransientQdrantError(refused())).toBe(true);
    expect(isTransientQdrantError(httpError(502))).toBe(true);
    expect(isTransientQdrantError(httpError(429))).toBe(true);
    expect(isTransientQdrantError(new Error('Unexpected Response: 503 (Service Unavailable)'))).toBe(true);
    expect(
      isTransientQdrantError(Object.assign(new Error('timeout'), { name: 'QdrantClientTimeoutError' })),
    ).toBe(true);
    expect(isTransientQdrantError(httpError(400))).toBe(false);
    expect(isTransientQdrantError(httpError(404))).toBe(false);
    expect(isTransientQdrantError(new Error('boom'))).toBe(false);
  });
});
