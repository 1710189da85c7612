import { isTerminalError, TerminalError } from '@llmbus/contracts';
import { Ingestor, IngestionRequest } from './ingestor';
import { NO_DECOMPOSITION, Retriever } from './retriever';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

// A document that supersedes itself, or documents that supersede each other, used to be indexed
// and then retired by themselves: every one of them vanished from retrieval without a word.
const POLICY = (perDiem: number) =>
  `# Travel policy\n## Meals\nThe daily meal allowance on business trips is ${perDiem} euros per traveller.`;

function doc(documentId: string, overrides: Partial<IngestionRequest> = {}): IngestionRequest {
  return {
    tenant: 'acme',
    documentId,
    collection: 'policies',
    title: 'Travel policy',
    sourceUri: `https://intranet.example/${documentId}`,
    contentType: 'text/markdown',
    content: POLICY(45),
    aclGroups: [],
    version: 1,
    ...overrides,
  };
}

async function refusal(work: Promise<unknown>): Promise<TerminalError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isTerminalError(error)) throw new Error(`expected a TerminalError, got ${String(error)}`);
  return error as TerminalError;
}

describe('supersession that would retire its own document', () => {
  const embedder = new HashedBagOfWordsEmbedder(256, 'bow-supersession-refusals');
  let store: PgliteVectorStore;
  let ingestor: Ingestor;
  beforeEach(async () => {
    store = await PgliteVectorStore.open();
    ingestor = new Ingestor(embedder, store);
  });
  afterEach(() => store.close());

  const found = async () => {
    const retriever = new Retriever(embedder, store, { decomposer: NO_DECOMPOSITION });
    const result = await retriever.retrieve({
      tenant: 'acme',
      collections: ['policies'],
      topK: 5,
      query: 'What is the daily meal allowance on business trips?',
      groups: [],
    });
    return result.passages.map((p) => p.documentId);
  };

  it('refuses a document that names itself in supersedes, and indexes nothing', async () => {
    const error = await refusal(ingestor.ingest(doc('travel-policy', { supersedes: ['travel-policy'] })));
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toContain('supersedes itself');
    expect(error.details).toEqual([expect.stringContaining('supersedes[0]: "travel-policy"')]);
    expect(await found()).toEqual([]);
  });

  it('keeps the indexed version searchable when a new version names itself', async () => {
    await ingestor.ingest(doc('travel-policy'));
    await refusal(ingestor.ingest(doc('travel-policy', { version: 2, supersedes: ['travel-policy'] })));
    expect(await found()).toEqual(['travel-policy']);
  });

  it('refuses the document that closes a cycle, so the first one stays in effect', async () => {
    await ingestor.ingest(doc('policy-a', { supersedes: ['policy-c'] }));
    await ingestor.ingest(doc('policy-b', { supersedes: ['policy-a'], content: POLICY(50) }));
    const error = await refusal(
      ingestor.ingest(doc('policy-c', { supersedes: ['policy-b'], content: POLICY(55) })),
    );
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toContain('policy-c → policy-b → policy-a → policy-c');
    expect(error.details).toEqual([expect.stringContaining('supersedes[0]: "policy-b"')]);
    // a is retired by b, b is in effect: the cycle was never stored.
    expect(await found()).toEqual(['policy-b']);
  });

  it('refuses a two-document cycle but accepts a new version that drops the back reference', async () => {
    await ingestor.ingest(doc('policy-a', { supersedes: ['policy-b'] }));
    await refusal(ingestor.ingest(doc('policy-b', { supersedes: ['policy-a'], content: POLICY(50) })));
    await ingestor.ingest(doc('policy-a', { version: 2 }));
    await ingestor.ingest(doc('policy-b', { supersedes: ['policy-a'], content: POLICY(50) }));
    expect(await found()).toEqual(['policy-b']);
  });

  it('accepts chains and shared ancestors that are no cycle', async () => {
    await ingestor.ingest(doc('v1'));
    await ingestor.ingest(doc('v2', { supersedes: ['v1'] }));
    await ingestor.ingest(doc('v3', { supersedes: ['v2', 'v1'], content: POLICY(60) }));
    expect(await found()).toEqual(['v3']);
  });
});

describe('one document id in two collections of a tenant', () => {
  const embedder = new HashedBagOfWordsEmbedder(256, 'bow-two-collections');

  it('refuses the second, so the first stays searchable where it was', async () => {
    const store = await PgliteVectorStore.open();
    const ingestor = new Ingestor(embedder, store);
    await ingestor.ingest(doc('handbook', { collection: 'hr' }));
    const error = await refusal(
      ingestor.ingest(doc('handbook', { collection: 'wiki', content: POLICY(99) })),
    );
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toContain('already indexed in collection "hr"');
    expect(error.details).toEqual(['collection: "wiki", but "handbook" is indexed in "hr"']);
    const retriever = new Retriever(embedder, store, { decomposer: NO_DECOMPOSITION });
    const result = await retriever.retrieve({
      tenant: 'acme',
      collections: ['hr'],
      topK: 5,
      query: 'What is the daily meal allowance on business trips?',
      groups: [],
    });
    expect(result.passages.map((p) => `${p.collection}/${p.documentId}`)).toEqual(['hr/handbook']);
    // Withdrawn there first, it may move; another tenant's id never counts.
    await ingestor.remove({ tenant: 'acme', documentId: 'handbook', collection: 'hr' });
    await ingestor.ingest(doc('handbook', { collection: 'wiki' }));
    await ingestor.ingest(doc('handbook', { collection: 'hr', tenant: 'globex' }));
    await store.close();
  });
});
