import { Ingestor, IngestionRequest } from './ingestor';
import { NO_DECOMPOSITION, Retriever } from './retriever';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

// Same words in both versions: their vector and BM25 scores tie exactly, the case where the stale
// version used to win because the vector list happened to see it first.
const POLICY = (perDiem: number) =>
  `# Travel policy\n## Meals\nThe daily meal allowance on business trips is ${perDiem} euros per traveller.`;

function doc(
  documentId: string,
  content: string,
  overrides: Partial<IngestionRequest> = {},
): IngestionRequest {
  return {
    tenant: 'acme',
    documentId,
    collection: 'policies',
    title: 'Travel policy',
    sourceUri: `https://intranet.example/${documentId}`,
    contentType: 'text/markdown',
    content,
    aclGroups: [],
    version: 1,
    ...overrides,
  };
}

describe('superseded documents', () => {
  let store: PgliteVectorStore;
  const embedder = new HashedBagOfWordsEmbedder(256, 'bow-superseded');
  beforeAll(async () => {
    store = await PgliteVectorStore.open();
    const ingestor = new Ingestor(embedder, store);
    // The replacement is indexed first, so by id and insertion order the stale one would come first.
    await ingestor.ingest(
      doc('travel-policy-2024', POLICY(45), {
        supersedes: ['travel-policy-2023'],
        effectiveDate: '2024-01-01',
        versionLabel: 'FY2024',
      }),
    );
    await ingestor.ingest(
      doc('travel-policy-2023', POLICY(45), { effectiveDate: '2023-01-01', versionLabel: 'FY2023' }),
    );
    await ingestor.ingest(
      doc('travel-policy-2027', POLICY(60), {
        supersedes: ['travel-policy-2024'],
        effectiveDate: '2027-01-01',
        versionLabel: 'FY2027',
      }),
    );
  });
  afterAll(() => store.close());

  const documentsFound = async (today: string, groups: string[] = []) => {
    const retriever = new Retriever(embedder, store, {
      decomposer: NO_DECOMPOSITION,
      now: () => new Date(`${today}T12:00:00Z`),
    });
    const result = await retriever.retrieve({
      tenant: 'acme',
      collections: ['policies'],
      topK: 5,
      query: 'What is the daily meal allowance on business trips?',
      groups,
    });
    return result.passages.map((p) => p.documentId);
  };

  it('retires a document once a readable replacement under another id is in effect', async () => {
    const found = await documentsFound('2026-11-30');
    expect(found).toContain('travel-policy-2024');
    expect(found).not.toContain('travel-policy-2023');
  });

  it('lets a replacement supersede nothing before its effective date', async () => {
    const found = await documentsFound('2023-06-01');
    // Before 2024 nothing is retired, and on a tie the version in effect wins over ones still to
    // come (2024's identical text is then left out as a duplicate of 2023's).
    expect(found[0]).toBe('travel-policy-2023');
    expect(found).toContain('travel-policy-2027');
  });

  it('follows a chain of replacements to the newest version in effect', async () => {
    expect(await documentsFound('2027-03-01')).toEqual(['travel-policy-2027']);
  });
});

describe('a replacement not yet in effect', () => {
  let store: PgliteVectorStore;
  const embedder = new HashedBagOfWordsEmbedder(256, 'bow-pending');
  beforeAll(async () => {
    store = await PgliteVectorStore.open();
    const ingestor = new Ingestor(embedder, store);
    // The version in effect says less of the question's words than its announced replacement, so
    // on score alone the replacement, which does not apply yet, used to come first.
    await ingestor.ingest(
      doc('meals-2024', '# Meals\nMeals: 45 euros a day.', {
        title: 'Meals',
        effectiveDate: '2024-01-01',
        versionLabel: 'M-2024',
      }),
    );
    await ingestor.ingest(
      doc('meals-2027', POLICY(60), {
        title: 'Meals',
        supersedes: ['meals-2024'],
        effectiveDate: '2027-01-01',
        versionLabel: 'M-2027',
      }),
    );
    await ingestor.ingest(
      doc('visa', '# Visas\nVisa fees for business trips are refunded.', { title: 'Visas' }),
    );
  });
  afterAll(() => store.close());

  const found = async (today: string) => {
    const retriever = new Retriever(embedder, store, {
      decomposer: NO_DECOMPOSITION,
      now: () => new Date(`${today}T12:00:00Z`),
      minScore: 0,
    });
    const result = await retriever.retrieve({
      tenant: 'acme',
      collections: ['policies'],
      topK: 5,
      query: 'What is the daily meal allowance on business trips?',
      groups: [],
    });
    return result.passages.map((p) => p.documentId);
  };

  it('never ranks above the version it will replace, which still applies', async () => {
    const before = await found('2026-11-30');
    expect(before).toContain('meals-2027');
    expect(before.indexOf('meals-2024')).toBeGreaterThanOrEqual(0);
    expect(before.indexOf('meals-2024')).toBeLessThan(before.indexOf('meals-2027'));
  });

  it("passes each passage's effective date and version label on, the announced one scored no higher than what it follows", async () => {
    const retriever = new Retriever(embedder, store, {
      decomposer: NO_DECOMPOSITION,
      now: () => new Date('2026-11-30T12:00:00Z'),
      minScore: 0,
    });
    const { passages } = await retriever.retrieve({
      tenant: 'acme',
      collections: ['policies'],
      topK: 5,
      query: 'What is the daily meal allowance on business trips?',
      groups: [],
    });
    const byDocument = new Map(passages.map((p) => [p.documentId, p]));
    expect(byDocument.get('meals-2024')).toMatchObject({
      effectiveDate: '2024-01-01',
      versionLabel: 'M-2024',
    });
    expect(byDocument.get('meals-2027')).toMatchObject({
      effectiveDate: '2027-01-01',
      versionLabel: 'M-2027',
    });
    expect(byDocument.get('visa')).not.toHaveProperty('effectiveDate');
    expect(byDocument.get('visa')).not.toHaveProperty('versionLabel');
    // Whoever sorts by score (the prompt renderer) keeps retrieval's order.
    const scores = passages.map((p) => p.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('stays after the version in effect when a reranker prefers its text', async () => {
    const retriever = new Retriever(embedder, store, {
      decomposer: NO_DECOMPOSITION,
      now: () => new Date('2026-11-30T12:00:00Z'),
      minScore: 0,
      reranker: {
        name: 'prefers-the-announced-text',
        rerank: async (_query, candidates) => ({
          scores: candidates.map((c) => (c.text.includes('60 euros') ? 1 : 0)),
        }),
      },
    });
    const { passages } = await retriever.retrieve({
      tenant: 'acme',
      collections: ['policies'],
      topK: 5,
      query: 'What is the daily meal allowance on business trips?',
      groups: [],
    });
    const found = passages.map((p) => p.documentId);
    expect(found.indexOf('meals-2024')).toBeGreaterThanOrEqual(0);
    expect(found.indexOf('meals-2024')).toBeLessThan(found.indexOf('meals-2027'));
  });

  it('ranks on its score again, alone, once in effect', async () => {
    expect((await found('2027-01-02'))[0]).toBe('meals-2027');
    expect(await found('2027-01-02')).not.toContain('meals-2024');
  });
});

describe('pending replacements that name each other', () => {
  it('still answers (a cycle stored before ingestion refused cycles cannot loop the ranking)', async () => {
    const store = await PgliteVectorStore.open();
    const embedder = new HashedBagOfWordsEmbedder(256, 'bow-pending-cycle');
    // Written straight to the store, as an older release could have left them.
    const ingestor = new Ingestor(embedder, store);
    const a = await ingestor.ingest(doc('a', POLICY(45), { effectiveDate: '2099-01-01' }));
    await ingestor.ingest(doc('b', POLICY(50), { effectiveDate: '2099-01-01', supersedes: ['a'] }));
    const [chunk] = await store.listDocumentChunks(a.storeCollection, 'acme', 'a');
    const [stored] = await store.readDocument(a.storeCollection, {
      tenant: 'acme',
      documentId: 'a',
      groups: [],
    });
    const vector = (await embedder.embed([POLICY(45)])).vectors[0];
    await store.upsert(a.storeCollection, [
      { id: chunk.id, vector, payload: { ...stored, supersedes: ['b'] } },
    ]);
    const retriever = new Retriever(embedder, store, { decomposer: NO_DECOMPOSITION, minScore: 0 });
    const result = await retriever.retrieve({
      tenant: 'acme',
      collections: ['policies'],
      topK: 5,
      query: 'What is the daily meal allowance on business trips?',
      groups: [],
    });
    expect(result.passages.map((p) => p.documentId).sort()).toEqual(['a', 'b']);
    await store.close();
  });
});

describe('a withdrawn document in the middle of a chain', () => {
  const embedder = new HashedBagOfWordsEmbedder(256, 'bow-withdrawn');
  const question = 'What is the daily meal allowance on business trips?';
  const found = async (store: PgliteVectorStore, today: string) => {
    const retriever = new Retriever(embedder, store, {
      decomposer: NO_DECOMPOSITION,
      now: () => new Date(`${today}T12:00:00Z`),
      minScore: 0,
    });
    const result = await retriever.retrieve({
      tenant: 'acme',
      collections: ['policies'],
      topK: 5,
      query: question,
      groups: [],
    });
    return result.passages.map((p) => p.documentId);
  };
  const withdraw = (ingestor: Ingestor, documentId: string) =>
    ingestor.remove({ tenant: 'acme', collection: 'policies', documentId });

  it('keeps the oldest retired: 2023 <- 2024 <- 2025, 2024 deleted, only 2025 is returned', async () => {
    const store = await PgliteVectorStore.open();
    const ingestor = new Ingestor(embedder, store);
    await ingestor.ingest(doc('meals-2023', POLICY(40), { effectiveDate: '2023-01-01' }));
    await ingestor.ingest(
      doc('meals-2024', POLICY(45), { effectiveDate: '2024-01-01', supersedes: ['meals-2023'] }),
    );
    await ingestor.ingest(
      doc('meals-2025', POLICY(50), { effectiveDate: '2025-01-01', supersedes: ['meals-2024'] }),
    );
    expect(await found(store, '2026-11-30')).toEqual(['meals-2025']);
    await withdraw(ingestor, 'meals-2024');
    expect(await found(store, '2026-11-30')).toEqual(['meals-2025']);
    // Without anything live superseding it, the oldest applies again.
    await withdraw(ingestor, 'meals-2025');
    expect(await found(store, '2026-11-30')).toEqual(['meals-2023']);
    await store.close();
  });

  it('keeps a pending replacement of the deleted version after the version in effect: 2023 first, 2027 second', async () => {
    const store = await PgliteVectorStore.open();
    const ingestor = new Ingestor(embedder, store);
    // The announced text shares more of the question's words: on score alone it comes first.
    await ingestor.ingest(
      doc('meals-2023', '# Meals\nMeals: 40 euros a day.', { effectiveDate: '2023-01-01' }),
    );
    await ingestor.ingest(
      doc('meals-2024', '# Meals\nMeals: 45 euros a day.', {
        effectiveDate: '2024-01-01',
        supersedes: ['meals-2023'],
      }),
    );
    await ingestor.ingest(
      doc('meals-2027', POLICY(60), { effectiveDate: '2027-01-01', supersedes: ['meals-2024'] }),
    );
    expect(await found(store, '2026-11-30')).toEqual(['meals-2024', 'meals-2027']);
    await withdraw(ingestor, 'meals-2024');
    expect(await found(store, '2026-11-30')).toEqual(['meals-2023', 'meals-2027']);
    // Once in effect, 2027 retires 2023 through the deleted 2024.
    expect(await found(store, '2027-01-02')).toEqual(['meals-2027']);
    await store.close();
  });

  it('answers with one member of a cycle two racing submissions stored: the newest in effect', async () => {
    const store = await PgliteVectorStore.open();
    const ingestor = new Ingestor(embedder, store);
    // Each passed the cycle check before the other was stored: written as they would have been.
    const a = await ingestor.ingest(doc('meals-a', POLICY(45), { effectiveDate: '2024-01-01' }));
    await ingestor.ingest(
      doc('meals-b', POLICY(50), { effectiveDate: '2025-01-01', supersedes: ['meals-a'] }),
    );
    const [chunk] = await store.listDocumentChunks(a.storeCollection, 'acme', 'meals-a');
    const [stored] = await store.readDocument(a.storeCollection, {
      tenant: 'acme',
      documentId: 'meals-a',
      groups: [],
    });
    const vector = (await embedder.embed([POLICY(45)])).vectors[0];
    await store.upsert(a.storeCollection, [
      { id: chunk.id, vector, payload: { ...stored, supersedes: ['meals-b'] } },
    ]);
    expect(await found(store, '2026-11-30')).toEqual(['meals-b']);
    expect(await found(store, '2024-06-01')).toEqual(['meals-a']);
    await store.close();
  });
});
