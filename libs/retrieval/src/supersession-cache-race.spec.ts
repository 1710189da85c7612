import { Ingestor, IngestionRequest } from './ingestor';
import { NO_DECOMPOSITION, Retriever } from './retriever';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';

jest.setTimeout(120_000);

const POLICY = (perDiem: number) =>
  `# Travel policy\n## Meals\nThe daily meal allowance on business trips is ${perDiem} euros per traveller.`;

function doc(
  tenant: string,
  documentId: string,
  perDiem: number,
  supersedes: string[] = [],
): IngestionRequest {
  return {
    tenant,
    documentId,
    collection: 'policies',
    title: 'Travel policy',
    sourceUri: `https://intranet.example/${documentId}`,
    contentType: 'text/markdown',
    content: POLICY(perDiem),
    aclGroups: [],
    version: 1,
    supersedes,
    effectiveDate: supersedes.length > 0 ? '2024-01-01' : '2023-01-01',
  };
}

/**
 * A question answered while a document is written: the embedded store keeps what queries read (the
 * supersession links, the BM25 statistics) until the table's next write, so a read issued while a
 * write was on its way to the database must not be kept: it answered the table as it was before the
 * write until the next write (the replacement's link missing and the version it replaces back).
 */
describe('questions in flight while documents are written (PGlite)', () => {
  const embedder = new HashedBagOfWordsEmbedder(256, 'bow-cache-race');
  let store: PgliteVectorStore;
  let ingestor: Ingestor;
  let retriever: Retriever;
  let storeCollection: string;
  beforeAll(async () => {
    store = await PgliteVectorStore.open();
    ingestor = new Ingestor(embedder, store);
    retriever = new Retriever(embedder, store, {
      decomposer: NO_DECOMPOSITION,
      now: () => new Date('2026-11-30T12:00:00Z'),
    });
    storeCollection = (await ingestor.ingest(doc('setup', 'setup', 1))).storeCollection;
  });
  afterAll(() => store.close());

  const documentsFound = async (tenant: string) =>
    (
      await retriever.retrieve({
        tenant,
        collections: ['policies'],
        topK: 5,
        query: 'What is the daily meal allowance on business trips?',
        groups: [],
      })
    ).passages.map((p) => p.documentId);
  const linksRead = (tenant: string) =>
    store.supersessions(storeCollection, { tenant, collections: ['policies'], groups: [] });
  // A turn of the event loop or of the microtask queue: where in the write the question's read lands.
  const turns = (n: number, macro: boolean) =>
    Array.from({ length: n }).reduce<Promise<void>>(
      (previous) =>
        previous.then(() =>
          macro ? new Promise<void>((resolve) => setImmediate(resolve)) : Promise.resolve(),
        ),
      Promise.resolve(),
    );

  it('keeps no links read during the write of a replacement: the version it replaces stays retired', async () => {
    for (const macro of [false, true]) {
      for (let delay = 0; delay < (macro ? 6 : 60); delay++) {
        const tenant = `replace-${macro}-${delay}`;
        await ingestor.ingest(doc(tenant, 'travel-policy-2023', 40));
        // The replacement's write starts; the question's read is issued `delay` turns later.
        const writing = ingestor.ingest(doc(tenant, 'travel-policy-2024', 45, ['travel-policy-2023']));
        await turns(delay, macro);
        const reading = linksRead(tenant);
        await Promise.all([reading, writing]);
        expect({ tenant, found: await documentsFound(tenant) }).toEqual({
          tenant,
          found: ['travel-policy-2024'],
        });
      }
    }
  });

  it('keeps no links read during a deletion: nothing deleted is answered for, the replaced version returns', async () => {
    for (const macro of [false, true]) {
      for (let delay = 0; delay < (macro ? 6 : 60); delay++) {
        const tenant = `delete-${macro}-${delay}`;
        await ingestor.ingest(doc(tenant, 'travel-policy-2023', 40));
        await ingestor.ingest(doc(tenant, 'travel-policy-2024', 45, ['travel-policy-2023']));
        const deleting = ingestor.remove({
          tenant,
          documentId: 'travel-policy-2024',
          collection: 'policies',
        });
        await turns(delay, macro);
        const reading = linksRead(tenant);
        await Promise.all([reading, deleting]);
        expect({ tenant, found: await documentsFound(tenant) }).toEqual({
          tenant,
          found: ['travel-policy-2023'],
        });
      }
    }
  });
});
