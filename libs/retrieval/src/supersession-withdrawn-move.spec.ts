import { Ingestor, IngestionRequest } from './ingestor';
import { NO_DECOMPOSITION, Retriever } from './retriever';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

const POLICY = (perDiem: number) =>
  `# Travel policy\n## Meals\nThe daily meal allowance on business trips is ${perDiem} euros per traveller.`;

function doc(
  documentId: string,
  perDiem: number,
  collection: string,
  supersedes: string[],
  effectiveDate: string,
): IngestionRequest {
  return {
    tenant: 'acme',
    documentId,
    collection,
    title: 'Travel policy',
    sourceUri: `https://intranet.example/${documentId}`,
    contentType: 'text/markdown',
    content: POLICY(perDiem),
    aclGroups: [],
    version: 1,
    supersedes,
    effectiveDate,
  };
}

/**
 * "Submitting a deleted id again replaces its kept links by its own", also when it comes back in
 * another collection: deleting it there must not bring back the links it had in the first one.
 */
describe('a withdrawn document submitted again in another collection, then deleted again', () => {
  it('keeps only its last links: the document it no longer supersedes is returned again', async () => {
    const store = await PgliteVectorStore.open();
    try {
      const embedder = new HashedBagOfWordsEmbedder(256, 'bow-withdrawn-move');
      const ingestor = new Ingestor(embedder, store);
      const retriever = new Retriever(embedder, store, {
        decomposer: NO_DECOMPOSITION,
        now: () => new Date('2026-11-30T12:00:00Z'),
      });
      const found = async () =>
        (
          await retriever.retrieve({
            tenant: 'acme',
            collections: ['policies', 'archive'],
            topK: 5,
            query: 'What is the daily meal allowance on business trips?',
            groups: [],
          })
        ).passages.map((p) => p.documentId);
      // 2023 <- 2024 <- 2025, all in "policies".
      await ingestor.ingest(doc('policy-2023', 40, 'policies', [], '2023-01-01'));
      await ingestor.ingest(doc('policy-2024', 45, 'policies', ['policy-2023'], '2024-01-01'));
      await ingestor.ingest(doc('policy-2025', 50, 'policies', ['policy-2024'], '2025-01-01'));
      expect(await found()).toEqual(['policy-2025']);
      // 2024 withdrawn, then submitted again in "archive" superseding nothing, then deleted there.
      await ingestor.remove({ tenant: 'acme', documentId: 'policy-2024', collection: 'policies' });
      await ingestor.ingest(doc('policy-2024', 45, 'archive', [], '2024-01-01'));
      await ingestor.remove({ tenant: 'acme', documentId: 'policy-2024', collection: 'archive' });
      // 2024's last submission superseded nothing: 2025 no longer reaches 2023 through it.
      expect((await found()).sort()).toEqual(['policy-2023', 'policy-2025']);
    } finally {
      await store.close();
    }
  });
});

describe('supersession across tenants', () => {
  it("never lets one tenant's document, live or withdrawn, retire another tenant's document of the same id", async () => {
    const store = await PgliteVectorStore.open();
    try {
      const embedder = new HashedBagOfWordsEmbedder(256, 'bow-withdrawn-tenants');
      const ingestor = new Ingestor(embedder, store);
      const retriever = new Retriever(embedder, store, {
        decomposer: NO_DECOMPOSITION,
        now: () => new Date('2026-11-30T12:00:00Z'),
      });
      const found = async (tenant: string) =>
        (
          await retriever.retrieve({
            tenant,
            collections: ['policies'],
            topK: 5,
            query: 'What is the daily meal allowance on business trips?',
            groups: [],
          })
        ).passages.map((p) => p.documentId);
      await ingestor.ingest(doc('policy-2023', 40, 'policies', [], '2023-01-01'));
      // globex: 2024 supersedes "policy-2023" (an id acme uses), 2025 supersedes its withdrawn 2024.
      await ingestor.ingest({
        ...doc('policy-2024', 45, 'policies', ['policy-2023'], '2024-01-01'),
        tenant: 'globex',
      });
      await ingestor.ingest({
        ...doc('policy-2025', 50, 'policies', ['policy-2024'], '2025-01-01'),
        tenant: 'globex',
      });
      await ingestor.remove({ tenant: 'globex', documentId: 'policy-2024', collection: 'policies' });
      expect(await found('acme')).toEqual(['policy-2023']);
      expect(await found('globex')).toEqual(['policy-2025']);
    } finally {
      await store.close();
    }
  });
});
