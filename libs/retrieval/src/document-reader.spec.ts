import { assembleDocument, DocumentReader } from './document-reader';
import { Ingestor, type IngestionRequest } from './ingestor';
import { PgliteVectorStore } from './stores/pglite-vector-store';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';
import type { ChunkPayload } from './vector-store';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

const clause = (n: number) =>
  `${n}.1 Clause ${n} of the agreement says what party ${n} must do, within ${n * 10} days of notice, in euros.`;
/** Long enough that the chunker splits it into several chunks that overlap. */
const CONTRACT = Array.from({ length: 30 }, (_, i) => clause(i + 1)).join('\n\n');

function doc(overrides: Partial<IngestionRequest> = {}): IngestionRequest {
  return {
    tenant: 'acme',
    documentId: 'msa-2026',
    collection: 'contracts',
    title: 'Master services agreement',
    sourceUri: 'kb://contracts/msa-2026',
    contentType: 'text/plain',
    content: CONTRACT,
    aclGroups: ['legal'],
    version: 1,
    ...overrides,
  };
}

describe('DocumentReader over PGlite', () => {
  let store: PgliteVectorStore;
  let embedder: HashedBagOfWordsEmbedder;
  let reader: DocumentReader;
  let models = 0;
  // PGlite starts in seconds, but minutes on a loaded 2-core machine.
  beforeAll(async () => {
    store = await PgliteVectorStore.open();
  }, 180_000);
  afterAll(() => store.close());
  beforeEach(async () => {
    embedder = new HashedBagOfWordsEmbedder(256, `reader-${++models}`);
    reader = new DocumentReader(embedder, store);
    await new Ingestor(embedder, store).ingest(doc());
  });

  it('puts a multi-chunk document back together, every clause once and in order', async () => {
    const read = await reader.read({ tenant: 'acme', documentId: 'msa-2026', groups: ['legal'] });
    expect(read?.chunkCount).toBeGreaterThan(1);
    expect(read).toMatchObject({ documentId: 'msa-2026', collection: 'contracts', version: 1 });
    expect(read!.text.replace(/\s+/g, ' ')).toBe(CONTRACT.replace(/\s+/g, ' '));
  });

  it('reads nothing for a requester outside the ACL, another tenant, or another collection', async () => {
    expect(await reader.read({ tenant: 'acme', documentId: 'msa-2026', groups: ['sales'] })).toBeUndefined();
    expect(await reader.read({ tenant: 'acme', documentId: 'msa-2026', groups: [] })).toBeUndefined();
    expect(
      await reader.read({ tenant: 'globex', documentId: 'msa-2026', groups: ['legal'] }),
    ).toBeUndefined();
    expect(
      await reader.read({ tenant: 'acme', documentId: 'msa-2026', groups: ['legal'], collections: ['wiki'] }),
    ).toBeUndefined();
    expect(await reader.read({ tenant: 'acme', documentId: 'no-such', groups: ['legal'] })).toBeUndefined();
  });

  it('reads the newest version only', async () => {
    await new Ingestor(embedder, store).ingest(
      doc({ version: 2, content: '1.1 Invoices are payable within 45 days of receipt.' }),
    );
    const read = await reader.read({ tenant: 'acme', documentId: 'msa-2026', groups: ['legal'] });
    expect(read).toMatchObject({ version: 2, text: '1.1 Invoices are payable within 45 days of receipt.' });
  });
});

describe('assembleDocument', () => {
  const chunk = (chunkIndex: number, sectionPath: string[], text: string, version = 1): ChunkPayload => ({
    tenant: 't',
    collection: 'c',
    aclGroups: [],
    documentId: 'd',
    version,
    title: 'D',
    sourceUri: 'kb://c/d',
    sectionPath,
    chunkIndex,
    contentHash: '',
    text,
  });

  it('writes the headings where the section changes and drops repeated overlap', () => {
    const read = assembleDocument([
      chunk(2, ['Contract', '9. Liability'], '9.1 Liability is capped.'),
      chunk(0, ['Contract', '3. Payment'], '3.1 Pay within 30 days. 3.2 Late fees apply.'),
      chunk(1, ['Contract', '3. Payment'], '3.2 Late fees apply. 3.3 In euros.'),
    ]);
    expect(read?.text).toBe(
      [
        '# Contract',
        '## 3. Payment',
        '3.1 Pay within 30 days. 3.2 Late fees apply. 3.3 In euros.',
        '## 9. Liability',
        '9.1 Liability is capped.',
      ].join('\n\n'),
    );
  });

  it('is undefined for no chunks', () => {
    expect(assembleDocument([])).toBeUndefined();
  });
});
