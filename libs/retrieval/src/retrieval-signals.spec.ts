import { Ingestor, IngestionRequest } from './ingestor';
import { RELEVANCE_FEATURES, type RelevanceModel } from './ranking/relevance';
import { DEFAULT_ANSWERABLE_RELEVANCE, NO_DECOMPOSITION, Retriever, RetrieverOptions } from './retriever';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

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

  it('reports a question nothing readable answers as not answerable, with relevance below the threshold', async () => {
    const result = await retrieve('quarterly dividend payout schedule');
    expect(result.answerable).toBe(false);
    expect(result.relevance).toBeLessThan(DEFAULT_ANSWERABLE_RELEVANCE);
  });

  it('reports a question close to a passage as answerable, with relevance above the threshold', async () => {
    const result = await retrieve('Visitor parking spaces reserved at reception');
    expect(result.answerable).toBe(true);
    expect(result.relevance).toBeGreaterThan(DEFAULT_ANSWERABLE_RELEVANCE);
  });

  it('decides answerable by answerableRelevance against the relevance model', async () => {
    // Every weight 0: relevance is σ(0) = 0.5 whatever was found.
    const neutral = { weight: 0, mean: 0, scale: 1 };
    const relevanceModel: RelevanceModel = {
      intercept: 0,
      features: Object.fromEntries(RELEVANCE_FEATURES.map((n) => [n, neutral])) as RelevanceModel['features'],
    };
    const question = 'Visitor parking spaces reserved at reception';
    const at = await retrieve(question, { relevanceModel, answerableRelevance: 0.5 });
    const above = await retrieve(question, { relevanceModel, answerableRelevance: 0.6 });
    expect(at).toMatchObject({ relevance: 0.5, answerable: true });
    expect(above).toMatchObject({ relevance: 0.5, answerable: false });
  });

  it('reports the features relevance was computed from', async () => {
    const result = await retrieve('Visitor parking spaces reserved at reception', {
      relevanceFeatures: 'all',
    });
    expect(result.relevanceFeatures).toMatchObject({ coverage: 1, uncoveredMatch: 1 });
    expect(result.relevanceFeatures!.bestCosine).toBeGreaterThan(0.5);
    // The passage's one sentence is nearer the question than the chunk under its title is.
    expect(result.relevanceFeatures!.bestSentenceCosine).toBeGreaterThanOrEqual(
      result.relevanceFeatures!.bestCosine,
    );
  });

  it('computes only the embedding features the relevance model uses, unless asked for all', async () => {
    const calls: number[] = [];
    const counting = {
      embed: async (texts: string[]) => {
        calls.push(texts.length);
        return embedder.embed(texts);
      },
    };
    const question = 'Are visitor helicopter landing spaces reserved at reception?';
    const retriever = (options: RetrieverOptions) =>
      new Retriever(counting, store, { decomposer: NO_DECOMPOSITION, ...options });
    const request = { tenant: 'acme', collections: ['wiki'], topK: 3, query: question, groups: [] };
    const byDefault = await retriever({}).retrieve(request);
    expect(byDefault.relevanceFeatures).not.toHaveProperty('uncoveredMatch');
    expect(byDefault.relevanceFeatures!.bestSentenceCosine).toBeGreaterThan(0);
    // The question, then the passages' sentences: no word or whole-passage embeddings.
    expect(calls).toHaveLength(2);
    calls.length = 0;
    const all = await retriever({ relevanceFeatures: 'all' }).retrieve(request);
    expect(all.relevanceFeatures!.uncoveredMatch).toBeGreaterThanOrEqual(0);
    expect(all.relevance).toBe(byDefault.relevance);
    expect(calls).toHaveLength(3);
  });

  it('scores a near miss (one topic word the passages lack) below the same question on the topic', async () => {
    const onTopic = await retrieve('Are visitor parking spaces reserved at reception?');
    const nearMiss = await retrieve('Are visitor helicopter landing spaces reserved at reception?');
    expect(nearMiss.relevanceFeatures!.coverageTop3).toBeLessThan(1);
    expect(nearMiss.relevance).toBeLessThan(onTopic.relevance);
  });
});
