import type { ApiKeyRegistry } from '@llmbus/access';
import type { AuditStore } from '@llmbus/audit';
import type { EventBus } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { ConfigError, loadPlatformConfig } from '@llmbus/config';
import type { ModelProviders } from '@llmbus/models';
import { createLogger } from '@llmbus/observability';
import { NO_DECOMPOSITION, type VectorStore } from '@llmbus/retrieval';
import { startRetriever, type RetrieverDeps } from '@llmbus/svc-retriever';
import { startPlatform, type PlatformDeps } from './platform';

// The stages themselves are not under test: each starter is replaced so the test sees exactly
// the dependencies the platform hands to it.
const stage = (url?: string): StageApp => ({ url, close: async () => undefined }) as unknown as StageApp;
jest.mock('@llmbus/svc-auditor', () => ({ startAuditor: jest.fn(async () => stage('http://auditor')) }));
jest.mock('@llmbus/svc-generator', () => ({
  startGenerator: jest.fn(async () => stage()),
  chatModelChooser: jest.fn(() => () => undefined),
}));
jest.mock('@llmbus/svc-validator', () => ({
  startValidator: jest.fn(async () => stage()),
  verifierChat: jest.fn(() => () => undefined),
}));
jest.mock('@llmbus/svc-router', () => ({
  startRouter: jest.fn(async () => stage('http://router')),
  classifierModels: jest.fn(() => ({})),
}));
jest.mock('@llmbus/svc-retriever', () => ({
  ...jest.requireActual<object>('@llmbus/svc-retriever'),
  startRetriever: jest.fn(async () => stage()),
}));

const model = { id: 'local-test', provider: 'local' };
const models = {
  embeddings: { embed: jest.fn() },
  chat: { chat: jest.fn() },
  embeddingModel: model,
  chatModel: model,
} as unknown as ModelProviders;

function deps(env: Record<string, string>): PlatformDeps {
  return {
    bus: {} as EventBus,
    config: loadPlatformConfig({}, { mode: 'embedded', httpPort: 0, clientId: 'test' }),
    env,
    logger: createLogger({ service: 'test', level: 'silent' }),
    apiKeys: {} as ApiKeyRegistry,
    models,
    vectorStore: {} as VectorStore,
    auditStore: {} as AuditStore,
    routerPort: 0,
    auditorPort: 0,
  };
}

describe('startPlatform (npm start)', () => {
  beforeEach(() => jest.mocked(startRetriever).mockClear());

  it('starts the retriever with the RETRIEVAL_* settings of its environment, as the distributed retriever does', async () => {
    const platform = await startPlatform(
      deps({
        RETRIEVAL_CHUNK_TOKENS: '120',
        RETRIEVAL_CHUNK_OVERLAP_TOKENS: '10',
        RETRIEVAL_EMBED_BATCH: '4',
        RETRIEVAL_MIN_SCORE: '0.4',
        RETRIEVAL_HYBRID: 'off',
        RETRIEVAL_CANDIDATES: '77',
        RETRIEVAL_CONTEXT_TOKENS: '900',
        RETRIEVAL_DECOMPOSITION: 'off',
      }),
    );
    await platform.close();
    const given = jest.mocked(startRetriever).mock.calls[0]![0] as RetrieverDeps;
    expect(given.ingestion).toEqual({ chunking: { maxTokens: 120, overlapTokens: 10 }, batchSize: 4 });
    expect(given.retrieval).toMatchObject({
      minScore: 0.4,
      lexical: false,
      candidates: 77,
      maxContextTokens: 900,
    });
    expect(given.retrieval?.decomposer).toBe(NO_DECOMPOSITION);
  });

  it('passes the reranker, the per-document cap, the answerable threshold and the cache TTL on too', async () => {
    const platform = await startPlatform(
      deps({
        RETRIEVAL_RERANKER: 'embedding',
        RETRIEVAL_MAX_PER_DOCUMENT: '1',
        RETRIEVAL_ANSWERABLE_RELEVANCE: '0.9',
        RETRIEVAL_CACHE_TTL_MS: '60000',
      }),
    );
    await platform.close();
    const given = jest.mocked(startRetriever).mock.calls[0]![0] as RetrieverDeps;
    expect(given.retrieval).toMatchObject({ maxPassagesPerDocument: 1, answerableRelevance: 0.9 });
    expect(given.retrieval?.reranker).toBeDefined();
    expect(given.retrievalCache).toBeDefined();
    // The defaults: no reranker, no cache.
    jest.mocked(startRetriever).mockClear();
    await (await startPlatform(deps({}))).close();
    const defaults = jest.mocked(startRetriever).mock.calls[0]![0] as RetrieverDeps;
    expect(defaults.retrieval?.reranker).toBeUndefined();
    expect(defaults.retrievalCache).toBeUndefined();
  });

  it('refuses to start, naming the variable, when a RETRIEVAL_* value is unusable', async () => {
    await expect(startPlatform(deps({ RETRIEVAL_HYBRID: 'maybe' }))).rejects.toThrow(ConfigError);
    await expect(startPlatform(deps({ RETRIEVAL_HYBRID: 'maybe' }))).rejects.toThrow(/RETRIEVAL_HYBRID/);
  });
});
