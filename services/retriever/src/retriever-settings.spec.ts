import { ConfigError } from '@llmbus/config';
import { DEFAULT_ANSWERABLE_RELEVANCE, DEFAULT_MAX_PASSAGES_PER_DOCUMENT } from '@llmbus/retrieval';
import { loadRetrieverSettings } from './retriever-settings';

describe('loadRetrieverSettings', () => {
  it('defaults to 200-token chunks with 30 overlap, batches of 32, min score 0.2, no decomposition and an in-memory store', () => {
    expect(loadRetrieverSettings({}, {})).toEqual({
      ingestion: { chunking: { maxTokens: 200, overlapTokens: 30 }, batchSize: 32 },
      retrieval: {
        minScore: 0.2,
        lexical: true,
        candidates: 30,
        maxContextTokens: 3000,
        maxPassagesPerDocument: DEFAULT_MAX_PASSAGES_PER_DOCUMENT,
        answerableRelevance: DEFAULT_ANSWERABLE_RELEVANCE,
      },
      reranker: 'none',
      decomposition: 'off',
      embeddedStoreDir: undefined,
      cacheTtlMs: 0,
    });
  });

  it('reads the RETRIEVAL_* variables and keeps the embedded store under LLMBUS_DATA_DIR', () => {
    const settings = loadRetrieverSettings(
      {
        RETRIEVAL_CHUNK_TOKENS: '400',
        RETRIEVAL_CHUNK_OVERLAP_TOKENS: '50',
        RETRIEVAL_EMBED_BATCH: '8',
        RETRIEVAL_MIN_SCORE: '0.35',
        RETRIEVAL_HYBRID: 'off',
        RETRIEVAL_CANDIDATES: '50',
        RETRIEVAL_CONTEXT_TOKENS: '1500',
        RETRIEVAL_RERANKER: 'embedding',
        RETRIEVAL_DECOMPOSITION: 'model',
        RETRIEVAL_MAX_PER_DOCUMENT: '0',
        RETRIEVAL_ANSWERABLE_RELEVANCE: '0.6',
        RETRIEVAL_CACHE_TTL_MS: '60000',
      },
      { dataDir: '/var/lib/llmbus' },
    );
    expect(settings).toEqual({
      ingestion: { chunking: { maxTokens: 400, overlapTokens: 50 }, batchSize: 8 },
      retrieval: {
        minScore: 0.35,
        lexical: false,
        candidates: 50,
        maxContextTokens: 1500,
        maxPassagesPerDocument: 0,
        answerableRelevance: 0.6,
      },
      reranker: 'embedding',
      decomposition: 'model',
      embeddedStoreDir: '/var/lib/llmbus/vector-store',
      cacheTtlMs: 60_000,
    });
  });

  it('names the variable when a value is unusable', () => {
    expect(() => loadRetrieverSettings({ RETRIEVAL_MIN_SCORE: 'high' }, {})).toThrow(ConfigError);
    expect(() => loadRetrieverSettings({ RETRIEVAL_MIN_SCORE: 'high' }, {})).toThrow(/RETRIEVAL_MIN_SCORE/);
    expect(() =>
      loadRetrieverSettings({ RETRIEVAL_CHUNK_TOKENS: '100', RETRIEVAL_CHUNK_OVERLAP_TOKENS: '100' }, {}),
    ).toThrow(/RETRIEVAL_CHUNK_OVERLAP_TOKENS/);
    expect(() => loadRetrieverSettings({ RETRIEVAL_RERANKER: 'cross-encoder' }, {})).toThrow(
      /RETRIEVAL_RERANKER/,
    );
    expect(() => loadRetrieverSettings({ RETRIEVAL_HYBRID: 'yes' }, {})).toThrow(/RETRIEVAL_HYBRID/);
    expect(() => loadRetrieverSettings({ RETRIEVAL_ANSWERABLE_RELEVANCE: '1.5' }, {})).toThrow(
      /RETRIEVAL_ANSWERABLE_RELEVANCE/,
    );
  });
});
