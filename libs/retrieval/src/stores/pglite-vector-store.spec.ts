import { describeVectorStoreConformance } from '../../test/vector-store-conformance';
import { PgliteVectorStore } from './pglite-vector-store';

// In-memory PGlite: no files, no network, ~2 s to start, so the conformance suite runs as a unit test.
describeVectorStoreConformance('PgliteVectorStore (in memory)', { open: () => PgliteVectorStore.open() });

describe('PgliteVectorStore', () => {
  it('rejects a collection name that is not a safe identifier', async () => {
    const store = await PgliteVectorStore.open();
    try {
      await expect(store.ensureCollection('chunks"; DROP TABLE x; --', 4)).rejects.toMatchObject({
        code: 'invalid_collection_name',
      });
      await store.ensureCollection('chunks_ok_4', 4);
      await expect(
        store.upsert('chunks_ok_4', [
          {
            id: '6f1c0b0a-0000-4000-8000-000000000001',
            vector: [Number.NaN, 0, 0, 0],
            payload: {
              tenant: 'a',
              collection: 'c',
              aclGroups: [],
              documentId: 'd',
              version: 1,
              title: '',
              sourceUri: '',
              sectionPath: [],
              chunkIndex: 0,
              contentHash: '',
              text: '',
            },
          },
        ]),
      ).rejects.toMatchObject({ code: 'invalid_vector' });
    } finally {
      await store.close();
    }
  });
});
