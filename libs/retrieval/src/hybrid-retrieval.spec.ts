import { vectorCollectionName } from './embedder';
import { Ingestor, IngestionRequest } from './ingestor';
import { NO_DECOMPOSITION, Retriever, RetrieverOptions } from './retriever';
import type { Reranker } from './reranker';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

function doc(
  documentId: string,
  content: string,
  overrides: Partial<IngestionRequest> = {},
): IngestionRequest {
  return {
    tenant: 'acme',
    documentId,
    collection: 'wiki',
    title: documentId,
    sourceUri: `https://wiki.example/${documentId}`,
    contentType: 'text/markdown',
    content,
    aclGroups: [],
    version: 1,
    ...overrides,
  };
}

const DOCS = [
  doc(
    'handbook',
    '# Handbook\n## Annual leave\nEmployees get twenty five vacation days per year.\n## Laptops\nLaptops are replaced every three years by the IT desk.',
  ),
  doc(
    'error-codes',
    '# Errors\nThe payment service answers E4711 when the card issuer times out; retry after a minute. Other failures are logged with their trace id and the merchant account.',
  ),
  doc('vpn-runbook', '# VPN\nWhen the VPN drops, restart the vpn agent and check the certificate.', {
    collection: 'runbooks',
  }),
  doc('vpn-wiki', '# VPN\nThe VPN agent connects staff to the office network; restart it when it drops.'),
  doc('copy-a', '# Printing\nPrinters on floor two are serviced on Mondays by the facilities team.'),
  doc('copy-b', '# Printing\nPrinters on floor two are serviced on Mondays by the facilities team.'),
  doc('salaries', '# Salary bands\nSalary bands per level and vacation payout rules.', { aclGroups: ['hr'] }),
];

describe('hybrid retrieval over PGlite', () => {
  let store: PgliteVectorStore;
  const embedder = new HashedBagOfWordsEmbedder(512, 'bow-hybrid');
  beforeAll(async () => {
    store = await PgliteVectorStore.open();
    const ingestor = new Ingestor(embedder, store);
    for (const d of DOCS) await ingestor.ingest(d);
  });
  afterAll(() => store.close());

  const retrieve = (
    query: string,
    options: RetrieverOptions = {},
    extra: {
      groups?: string[];
      topK?: number;
      collections?: string[];
      collectionWeights?: Record<string, number>;
    } = {},
  ) =>
    new Retriever(embedder, store, options).retrieve({
      tenant: 'acme',
      collections: extra.collections ?? ['wiki', 'runbooks'],
      topK: extra.topK ?? 5,
      query,
      groups: extra.groups ?? [],
      collectionWeights: extra.collectionWeights,
    });

  it('returns no passage less similar to the question than minScore, BM25 matches included', async () => {
    const query = 'what does E4711 mean for a customer checkout at our shop';
    const embedded = await embedder.embed([query]);
    const [vector] = embedded.vectors;
    const name = vectorCollectionName(embedded.usage.modelId, vector.length);
    // Every chunk of the scope at least minScore similar to the question, by the store's own cosine.
    const similar = async (minScore: number) =>
      new Set(
        (
          await store.search(name, vector, {
            tenant: 'acme',
            collections: ['wiki', 'runbooks'],
            groups: [],
            limit: 100,
            minScore,
          })
        ).map((c) => c.id),
      );
    for (const minScore of [0, 0.1, 0.2, 0.3, 0.5]) {
      const { passages } = await retrieve(query, { minScore, decomposer: NO_DECOMPOSITION }, { topK: 10 });
      const allowed = await similar(minScore);
      expect(passages.filter((p) => !allowed.has(p.id))).toEqual([]);
    }
    // The code's chunk is found (its words and vector agree) until minScore passes its cosine.
    const found = await retrieve(query, { minScore: 0, decomposer: NO_DECOMPOSITION });
    expect(found.passages[0]?.documentId).toBe('error-codes');
    expect(await similar(0.2)).not.toContain(found.passages[0]?.id);
    expect((await retrieve(query, { minScore: 0.2, decomposer: NO_DECOMPOSITION })).passages).toEqual([]);
  });

  it('orders equally relevant sources by the collection weights of the plan', async () => {
    const ids = async (collectionWeights: Record<string, number>) =>
      (
        await retrieve('restart the VPN agent when it drops', {}, { topK: 2, collectionWeights })
      ).passages.map((p) => p.documentId);
    expect(await ids({ runbooks: 3 })).toEqual(['vpn-runbook', 'vpn-wiki']);
    expect(await ids({ wiki: 3 })).toEqual(['vpn-wiki', 'vpn-runbook']);
  });

  it('returns one passage of content stored twice', async () => {
    const { passages } = await retrieve('printers floor two serviced');
    expect(passages.filter((p) => p.text.startsWith('Printers on floor two'))).toHaveLength(1);
  });

  it('keeps the passages within the token budget and carries citation metadata on each', async () => {
    const { passages } = await retrieve(
      'vacation days laptops VPN printers',
      { maxContextTokens: 40 },
      { topK: 10 },
    );
    expect(passages.length).toBeGreaterThan(0);
    expect(passages.reduce((n, p) => n + Math.ceil(p.text.length / 4), 0)).toBeLessThanOrEqual(40);
    for (const p of passages)
      expect(p).toMatchObject({
        id: expect.any(String),
        documentId: expect.any(String),
        title: expect.any(String),
        sourceUri: expect.stringMatching(/^https:/),
        sectionPath: expect.any(String),
      });
  });

  it('searches each part of a multi-part question and fuses the results', async () => {
    const question = 'How many vacation days do employees get? How often are laptops replaced?';
    const result = await retrieve(question, {}, { topK: 2, collections: ['wiki'] });
    expect(result.plan?.queries).toHaveLength(3);
    expect(result.passages.map((p) => p.sectionPath).sort()).toEqual([
      'Handbook > Annual leave',
      'Handbook > Laptops',
    ]);
  });

  it('never returns a restricted passage to a non-member, whichever list found it', async () => {
    const { passages, withheldCount } = await retrieve(
      'salary bands vacation payout? salary bands per level',
      {},
      { groups: ['staff'] },
    );
    expect(passages.map((p) => p.documentId)).not.toContain('salaries');
    expect(withheldCount).toBeGreaterThanOrEqual(1);
    expect(
      (await retrieve('salary bands vacation payout', {}, { groups: ['hr'] })).passages[0].documentId,
    ).toBe('salaries');
  });

  it('lets a reranker reorder the head of the fused list', async () => {
    const seen: number[] = [];
    const preferRunbooks: Reranker = {
      name: 'test',
      rerank: async (_query, candidates) => {
        seen.push(candidates.length);
        return { scores: candidates.map((c) => (c.text.includes('certificate') ? 1 : 0)) };
      },
    };
    const { passages } = await retrieve(
      'restart the VPN agent when it drops',
      { reranker: preferRunbooks, rerankDepth: 3 },
      { topK: 2, collectionWeights: { wiki: 1.2 } },
    );
    expect(passages[0].documentId).toBe('vpn-runbook');
    expect(Math.max(...seen)).toBeLessThanOrEqual(3);
  });
});
