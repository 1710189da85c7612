import { describeVectorStoreConformance } from '../../test/vector-store-conformance';
import { PgliteVectorStore } from './pglite-vector-store';

// In-memory PGlite: no files, no network, ~2 s to start, so the conformance suite runs as a unit test.
describeVectorStoreConformance('PgliteVectorStore (in memory)', { open: () => PgliteVectorStore.open() });

const payload = (documentId: string, text: string) => ({
  tenant: 'a',
  collection: 'c',
  aclGroups: [],
  documentId,
  version: 1,
  title: '',
  sourceUri: '',
  sectionPath: [],
  chunkIndex: 0,
  contentHash: '',
  text,
});

describe('PgliteVectorStore', () => {
  it('keeps the last occurrence of a point repeated within one upsert batch', async () => {
    const store = await PgliteVectorStore.open();
    try {
      await store.ensureCollection('chunks_batch_2', 2);
      const id = '6f1c0b0a-0000-4000-8000-000000000002';
      await store.upsert('chunks_batch_2', [
        { id, vector: [1, 0], payload: payload('d', 'first') },
        { id: '6f1c0b0a-0000-4000-8000-000000000003', vector: [0, 1], payload: payload('e', 'other') },
        { id, vector: [1, 0], payload: payload('d', 'last') },
      ]);
      const found = await store.search('chunks_batch_2', [1, 0], {
        tenant: 'a',
        collections: ['c'],
        groups: [],
        limit: 10,
      });
      expect(found.map((f) => f.payload.text)).toEqual(['last', 'other']);
    } finally {
      await store.close();
    }
  });

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
