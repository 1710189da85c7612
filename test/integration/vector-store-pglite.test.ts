import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteVectorStore } from '@llmbus/retrieval';

// The conformance suite runs against in-memory PGlite as a unit test
// (libs/retrieval/src/stores/pglite-vector-store.spec.ts); this checks what needs a disk.
jest.setTimeout(60_000);

describe('PgliteVectorStore with a data directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmbus-vectors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps points across a close and reopen', async () => {
    const first = await PgliteVectorStore.open({ dataDir: join(dir, 'vector-store') });
    await first.ensureCollection('chunks_m_2', 2);
    await first.upsert('chunks_m_2', [
      {
        id: '6f1c0b0a-0000-4000-8000-000000000001',
        vector: [1, 0],
        payload: {
          tenant: 'a',
          collection: 'wiki',
          aclGroups: [],
          documentId: 'd',
          version: 1,
          title: 'T',
          sourceUri: 'u',
          sectionPath: [],
          chunkIndex: 0,
          contentHash: 'h',
          text: 'kept',
        },
      },
    ]);
    await first.close();

    const second = await PgliteVectorStore.open({ dataDir: join(dir, 'vector-store') });
    try {
      const [found] = await second.search('chunks_m_2', [1, 0], {
        tenant: 'a',
        collections: ['wiki'],
        groups: [],
        limit: 1,
      });
      expect(found.payload.text).toBe('kept');
    } finally {
      await second.close();
    }
  });
});
