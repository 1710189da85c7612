import { Ingestor, IngestionRequest } from './ingestor';
import { NO_DECOMPOSITION, Retriever, RetrieverOptions } from './retriever';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';

function doc(documentId: string, content: string): IngestionRequest {
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
  };
}

// One long document whose every section mentions parking, and one short one that also does.
const GARAGE = ['North', 'South', 'East', 'West', 'Roof']
  .map(
    (side) =>
      `## ${side} level\nParking spaces on the ${side.toLowerCase()} level of the garage are reserved by badge.`,
  )
  .join('\n');

describe('retrieval signals: diversity and relevance', () => {
  let store: PgliteVectorStore;
  const embedder = new HashedBagOfWordsEmbedder(512, 'bow-signals');
  beforeAll(async () => {
    store = await PgliteVectorStore.open();
    const ingestor = new Ingestor(embedder, store, { chunking: { maxTokens: 24, overlapTokens: 0 } });
    await ingestor.ingest(doc('garage', `# Garage\n${GARAGE}`));
    await ingestor.ingest(
      doc('visitors', '# Visitors\nVisitor parking spaces are reserved at reception by badge.'),
    );
  });
  afterAll(() => store.close());

  const retrieve = (query: string, options: RetrieverOptions = {}) =>
    new Retriever(embedder, store, { decomposer: NO_DECOMPOSITION, ...options }).retrieve({
      tenant: 'acme',
      collections: ['wiki'],
      topK: 3,
      query,
      groups: [],
    });

  it('caps the passages of one document in the top k so another matching document gets a place', async () => {
    const capped = await retrieve('Which parking spaces are reserved by badge?', {
      maxPassagesPerDocument: 2,
    });
    expect(capped.passages.map((p) => p.documentId)).toContain('visitors');
    expect(capped.passages.filter((p) => p.documentId === 'garage')).toHaveLength(2);
  });

  it('keeps one document filling the top k when the cap is off', async () => {
    const uncapped = await retrieve('parking spaces on the level of the garage', {
      maxPassagesPerDocument: 0,
    });
    expect(uncapped.passages.map((p) => p.documentId)).toEqual(['garage', 'garage', 'garage']);
  });

  it('reports a question nothing readable answers as not answerable, with relevance near 0', async () => {
    const result = await retrieve('quarterly dividend payout schedule');
    expect(result.answerable).toBe(false);
    expect(result.relevance).toBeLessThan(0.5);
  });

  it('reports a question close to a passage as answerable, with relevance above 0.5', async () => {
    const result = await retrieve('Visitor parking spaces reserved at reception');
    expect(result.answerable).toBe(true);
    expect(result.relevance).toBeGreaterThan(0.5);
  });

  it('moves the threshold with answerableScore', async () => {
    const strict = await retrieve('Visitor parking spaces reserved at reception', { answerableScore: 0.99 });
    expect(strict.answerable).toBe(false);
  });
});
