import { QdrantVectorStore, type VectorStore } from '@llmbus/retrieval';
import { describeVectorStoreConformance } from '../../libs/retrieval/test/vector-store-conformance';

// No Qdrant server can be installed on the development machines; point QDRANT_URL (and
// QDRANT_API_KEY if needed) at any Qdrant to run the same conformance suite the PGlite store passes.
const url = process.env['QDRANT_URL'];
jest.setTimeout(60_000);

if (url) {
  describeVectorStoreConformance(`QdrantVectorStore at ${url}`, {
    open: async () => new QdrantVectorStore({ url, apiKey: process.env['QDRANT_API_KEY'], attempts: 3 }),
    drop: async (store: VectorStore, name: string) => (store as QdrantVectorStore).dropCollection(name),
  });
} else {
  describe('QdrantVectorStore conformance', () => {
    it.skip('is skipped: set QDRANT_URL (e.g. http://127.0.0.1:6333) to run it against a Qdrant server', () =>
      undefined);
  });
}
