import { Ingestor, IngestionRequest } from './ingestor';
import { Retriever } from './retriever';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';
import type { VectorStore } from './vector-store';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

const HANDBOOK = [
  '# Handbook',
  '## Annual leave',
  'Employees get twenty five vacation days per year. Vacation requests go to your manager.',
  '## Laptops',
  'Laptops are replaced every three years. Broken laptops go to the IT desk.',
].join('\n');

function doc(overrides: Partial<IngestionRequest> = {}): IngestionRequest {
  return {
    tenant: 'acme',
    documentId: 'handbook',
    collection: 'wiki',
    title: 'Employee handbook',
    sourceUri: 'https://wiki.example/handbook',
    contentType: 'text/markdown',
    content: HANDBOOK,
    aclGroups: [],
    version: 1,
    ...overrides,
  };
}

/** Records the order of store writes, to check that a new version lands before the old one goes. */
function recording(store: VectorStore, log: string[]): VectorStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'upsert' || property === 'deleteByFilter') log.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('Ingestor and Retriever over PGlite', () => {
  let store: PgliteVectorStore;
  let embedder: HashedBagOfWordsEmbedder;
  let modelCount = 0;
  beforeAll(async () => {
    store = await PgliteVectorStore.open();
  });
  afterAll(() => store.close());
  beforeEach(() => {
    // A model id per test gives each test its own store collection.
    embedder = new HashedBagOfWordsEmbedder(512, `bow-${++modelCount}`);
  });

  const retrieve = (
    query: string,
    groups: string[] = [],
    extra: { tenant?: string; topK?: number; collections?: string[] } = {},
  ) =>
    new Retriever(embedder, store).retrieve({
      tenant: extra.tenant ?? 'acme',
      collections: extra.collections ?? ['wiki'],
      topK: extra.topK ?? 5,
      query,
      groups,
    });

  it('indexes a document in embedding batches and retrieves the relevant section with citation metadata', async () => {
    const result = await new Ingestor(embedder, store, { batchSize: 1 }).ingest(doc());
    expect(result).toMatchObject({
      documentId: 'handbook',
      collection: 'wiki',
      version: 1,
      chunkCount: 2,
      unchanged: false,
      storeCollection: 'chunks_bow_1_512',
    });
    expect(result.usage).toMatchObject({ modelId: 'bow-1', provider: 'test' });
    expect(result.timings.totalMs).toBeGreaterThanOrEqual(result.timings.embedMs);
    // One probe for the store collection, then one call per batch of 1.
    expect(embedder.calls.map((c) => c.length)).toEqual([1, 1, 1]);
    expect(embedder.calls[1][0]).toBe(
      'Employee handbook > Handbook > Annual leave\n\nEmployees get twenty five vacation days per year. Vacation requests go to your manager.',
    );

    const { passages, withheldCount, usage } = await retrieve('how many vacation days');
    expect(withheldCount).toBe(0);
    expect(usage).toMatchObject({ modelId: 'bow-1' });
    expect(passages[0]).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      documentId: 'handbook',
      collection: 'wiki',
      title: 'Employee handbook',
      sourceUri: 'https://wiki.example/handbook',
      chunkIndex: 0,
      text: 'Employees get twenty five vacation days per year. Vacation requests go to your manager.',
      score: expect.any(Number),
      sectionPath: 'Handbook > Annual leave',
    });
    expect(passages.map((p) => p.chunkIndex)).not.toContain(1);
  });

  it('does nothing for the same version with the same content and metadata', async () => {
    const ingestor = new Ingestor(embedder, store);
    await ingestor.ingest(doc());
    const callsBefore = embedder.calls.length;
    const again = await ingestor.ingest(doc());
    expect(again).toMatchObject({ unchanged: true, chunkCount: 2, superseded: false });
    expect(embedder.calls.length).toBe(callsBefore);
  });

  it('applies an ACL change of the same version even though the text did not change', async () => {
    const ingestor = new Ingestor(embedder, store);
    await ingestor.ingest(doc());
    const restricted = await ingestor.ingest(doc({ aclGroups: ['hr'] }));
    expect(restricted.unchanged).toBe(false);
    const forEveryone = await retrieve('vacation days');
    expect(forEveryone.passages).toEqual([]);
    expect(forEveryone.withheldCount).toBe(1);
    expect((await retrieve('vacation days', ['hr'])).passages).toHaveLength(1);
  });

  it('replaces an old version by writing the new one first, then deleting the old', async () => {
    const writes: string[] = [];
    const ingestor = new Ingestor(embedder, recording(store, writes));
    await ingestor.ingest(doc());
    writes.length = 0;
    const v2 = await ingestor.ingest(
      doc({ version: 2, content: '# Handbook\nVacation is now thirty days per year.' }),
    );
    expect(v2).toMatchObject({ version: 2, chunkCount: 1, unchanged: false });
    expect(writes).toEqual(['upsert', 'deleteByFilter']);
    const stored = await store.listDocumentChunks(v2.storeCollection, 'acme', 'handbook');
    expect(stored.map((c) => c.version)).toEqual([2]);
    expect((await retrieve('vacation days')).passages.map((p) => p.text)).toEqual([
      'Vacation is now thirty days per year.',
    ]);
    expect((await retrieve('broken laptops replaced')).passages).toEqual([]);
  });

  it('skips a version older than the indexed one', async () => {
    const ingestor = new Ingestor(embedder, store);
    await ingestor.ingest(doc({ version: 3 }));
    const stale = await ingestor.ingest(doc({ version: 2, content: 'Old text about vacation.' }));
    expect(stale).toMatchObject({ unchanged: true, superseded: true, chunkCount: 0 });
    expect((await retrieve('vacation')).passages.map((p) => p.text)).not.toContain(
      'Old text about vacation.',
    );
  });

  it('refuses a document with no text to index (empty, blank, markup only) and keeps the indexed version', async () => {
    const ingestor = new Ingestor(embedder, store);
    const first = await ingestor.ingest(doc());
    const empties: Partial<IngestionRequest>[] = [
      { content: '' },
      { content: ' \n\t \n' },
      { contentType: 'text/plain', content: '\n\n' },
      { contentType: 'text/html', content: '<p> </p><script>x()</script>' },
    ];
    for (const empty of empties) {
      const refusal = ingestor.ingest(doc({ version: 2, ...empty }));
      await expect(refusal).rejects.toMatchObject({
        name: 'TerminalError',
        code: 'invalid_payload',
        message: expect.stringContaining('has no text to index'),
        details: [expect.stringMatching(/^content: no text to index/)],
      });
      await expect(refusal).rejects.toThrow(/send a DocumentDeleted/);
    }
    const kept = await store.listDocumentChunks(first.storeCollection, 'acme', 'handbook');
    expect(kept.map((c) => c.version)).toEqual([1, 1]);
  });

  it('indexes a heading-only document: its headings are its text', async () => {
    const ingestor = new Ingestor(embedder, store);
    const note = await ingestor.ingest(
      doc({ documentId: 'note', title: 'Note', content: '# Office closed on Friday the 13th\n' }),
    );
    expect(note).toMatchObject({ chunkCount: 1, unchanged: false });
    const { passages } = await retrieve('office closed friday');
    expect(passages.map((p) => [p.documentId, p.text])).toContainEqual([
      'note',
      'Office closed on Friday the 13th',
    ]);
  });

  it("keeps tenants apart and counts only the asker's tenant's restricted passages as withheld", async () => {
    const ingestor = new Ingestor(embedder, store);
    await ingestor.ingest(doc());
    await ingestor.ingest(
      doc({
        documentId: 'salaries',
        title: 'Salary bands',
        content: 'Vacation payout and salary bands per level.',
        aclGroups: ['hr'],
      }),
    );
    await ingestor.ingest(
      doc({ tenant: 'globex', documentId: 'g-handbook', content: 'Globex vacation days are unlimited.' }),
    );

    const asEmployee = await retrieve('vacation days', ['staff']);
    expect(asEmployee.passages.map((p) => p.documentId)).toEqual(['handbook']);
    expect(asEmployee.withheldCount).toBe(1);

    const asHr = await retrieve('vacation days', ['hr']);
    expect(asHr.passages.map((p) => p.documentId).sort()).toEqual(['handbook', 'salaries']);
    expect(asHr.withheldCount).toBe(0);

    const globex = await retrieve('vacation days', ['hr'], { tenant: 'globex' });
    expect(globex.passages.map((p) => p.documentId)).toEqual(['g-handbook']);
    expect(globex.withheldCount).toBe(0);
  });

  it('returns nothing below the relevance threshold', async () => {
    await new Ingestor(embedder, store).ingest(doc());
    const { passages, withheldCount } = await retrieve('kubernetes ingress certificate rotation');
    expect(passages).toEqual([]);
    expect(withheldCount).toBe(0);
  });

  it('calls neither the embedder nor the store when the plan asks for nothing', async () => {
    const untouchable = new Proxy({} as VectorStore, {
      get: () => {
        throw new Error('the store must not be called');
      },
    });
    const retriever = new Retriever(embedder, untouchable);
    for (const plan of [
      { topK: 0, collections: ['wiki'], query: 'q' },
      { topK: 5, collections: [], query: 'q' },
      { topK: 5, collections: ['wiki'], query: '  ' },
    ]) {
      expect(await retriever.retrieve({ tenant: 'acme', groups: [], ...plan })).toEqual({
        passages: [],
        withheldCount: 0,
        relevance: 0,
        answerable: false,
      });
    }
    expect(embedder.calls).toEqual([]);
  });
});
