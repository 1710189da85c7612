import { Ingestor, IngestionRequest } from './ingestor';
import { NO_DECOMPOSITION, Retriever } from './retriever';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';

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
