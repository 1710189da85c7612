import { describeVectorStoreConformance } from '../../test/vector-store-conformance';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
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

  it('answers the supersession links of a scope again without a read until the table is written', async () => {
    const store = await PgliteVectorStore.open();
    try {
      await store.ensureCollection('chunks_sup_2', 2);
      const point = (id: string, documentId: string, supersedes: string[]) => ({
        id,
        vector: [1, 0],
        payload: { ...payload(documentId, documentId), supersedes },
      });
      await store.upsert('chunks_sup_2', [point('6f1c0b0a-0000-4000-8000-000000000010', 'v2', ['v1'])]);
      const query = { tenant: 'a', collections: ['c'], groups: [] };
      const links = async () =>
        (await store.supersessions('chunks_sup_2', query)).map(
          (l) => `${l.documentId}>${l.supersedes.join(',')}${l.withdrawn ? ' (withdrawn)' : ''}`,
        );
      expect(await links()).toEqual(['v2>v1']);
      // Reads run prepared (execProtocol) or unnamed (query): neither may happen.
      const db = (store as unknown as { db: PGlite }).db;
      const reads = [jest.spyOn(db, 'query'), jest.spyOn(db, 'execProtocol')];
      expect(await links()).toEqual(['v2>v1']);
      for (const read of reads) expect(read).not.toHaveBeenCalled();
      for (const read of reads) read.mockRestore();
      await store.upsert('chunks_sup_2', [point('6f1c0b0a-0000-4000-8000-000000000011', 'v3', ['v2'])]);
      expect(await links()).toEqual(['v2>v1', 'v3>v2']);
      await store.deleteByFilter('chunks_sup_2', { tenant: 'a', documentId: 'v3' });
      expect(await links()).toEqual(['v2>v1', 'v3>v2 (withdrawn)']);
    } finally {
      await store.close();
    }
  });

  it('reads no query words for a text seen lately whose words are counted, with the scores a fresh store gives', async () => {
    const [warm, fresh] = await Promise.all([PgliteVectorStore.open(), PgliteVectorStore.open()]);
    const name = 'chunks_words_2';
    try {
      const texts = ['badge office', 'badge refund', 'refund travel hotel', 'hotel vpn', 'vpn badge laptop'];
      for (const store of [warm, fresh]) {
        await store.ensureCollection(name, 2);
        await store.upsert(
          name,
          texts.map((text, i) => ({
            id: `6f1c0b0a-0000-4000-8000-00000000002${i}`,
            vector: [1, i],
            payload: payload(`d${i}`, text),
          })),
        );
      }
      const query = (text: string) => ({ tenant: 'a', collections: ['c'], groups: [], limit: 10, text });
      await warm.lexicalSearch(name, query('badge hotel'));
      await warm.hybridSearch(name, [1, 0], { ...query('refund laptop'), minScore: -1 });
      const reads = jest.spyOn((warm as unknown as { prepared: { query: () => unknown } }).prepared, 'query');
      // A ticket's own id (words no chunk holds), counted words and one new word (travel).
      const text = 'ticket 5f3e-77ab: badge refund hotel travel laptop';
      const lists = await warm.hybridSearch(name, [1, 0], { ...query(text), minScore: -1 });
      // The text's words, the counts of its new words, the hybrid read.
      expect(reads).toHaveBeenCalledTimes(3);
      expect(lists).toEqual(await fresh.hybridSearch(name, [1, 0], { ...query(text), minScore: -1 }));
      expect(lists.lexical.map((c) => c.payload.documentId).sort()).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
      reads.mockClear();
      // The same text again: only the hybrid read (and only the BM25 read for lexicalSearch).
      expect(await warm.hybridSearch(name, [1, 0], { ...query(text), minScore: -1 })).toEqual(lists);
      expect(await warm.lexicalSearch(name, query(text))).toEqual(lists.lexical);
      expect(reads).toHaveBeenCalledTimes(2);
      // A write drops the counts, not the words: the counts are read again.
      await warm.upsert(name, [
        {
          id: '6f1c0b0a-0000-4000-8000-000000000029',
          vector: [1, 9],
          payload: payload('d9', 'travel travel'),
        },
      ]);
      await fresh.upsert(name, [
        {
          id: '6f1c0b0a-0000-4000-8000-000000000029',
          vector: [1, 9],
          payload: payload('d9', 'travel travel'),
        },
      ]);
      expect(await warm.lexicalSearch(name, query(text))).toEqual(
        await fresh.lexicalSearch(name, query(text)),
      );
    } finally {
      await Promise.all([warm.close(), fresh.close()]);
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

describe('PgliteVectorStore at scale', () => {
  // Each test starts its own PGlite and loads hundreds of rows: slow on a loaded machine.
  jest.setTimeout(180_000);
  const cosine = (a: readonly number[], b: readonly number[]) => {
    const dot = (x: readonly number[], y: readonly number[]) =>
      x.reduce((sum, v, i) => sum + v * (y[i] ?? 0), 0);
    return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
  };
  // A seeded generator, so every run loads the same vectors.
  const seeded = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const sqlOf = (store: PgliteVectorStore) => (store as unknown as { db: PGlite }).db;
  const id = (i: number) => `6f1c0b0a-0000-4000-8000-${i.toString().padStart(12, '0')}`;

  it('upgrades a table made before term frequencies: lexical search still finds its chunks', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'llmbus-pglite-upgrade-'));
    try {
      const before = await PgliteVectorStore.open({ dataDir });
      await before.ensureCollection('chunks_old_2', 2);
      await before.upsert('chunks_old_2', [
        { id: id(1), vector: [1, 0], payload: payload('d1', 'refund policies for hotels') },
      ]);
      // The table as an earlier release left it: a tsvector column with a GIN index, no terms column.
      await sqlOf(before).exec(`
        ALTER TABLE "chunks_old_2" ADD COLUMN lexemes tsvector;
        UPDATE "chunks_old_2" SET lexemes = to_tsvector('english', text);
        ALTER TABLE "chunks_old_2" DROP COLUMN terms;
        CREATE INDEX "chunks_old_2_lexemes" ON "chunks_old_2" USING gin (lexemes);
      `);
      await before.close();
      const after = await PgliteVectorStore.open({ dataDir });
      try {
        await after.ensureCollection('chunks_old_2', 2);
        const found = await after.lexicalSearch('chunks_old_2', {
          tenant: 'a',
          collections: ['c'],
          groups: [],
          limit: 5,
          text: 'hotel refund',
        });
        expect(found.map((f) => f.payload.documentId)).toEqual(['d1']);
        // The tsvector column is gone: BM25 reads terms, and rows are narrower without it.
        const columns = await sqlOf(after).query<{ name: string }>(
          `SELECT attname AS name FROM pg_attribute WHERE attrelid = '"chunks_old_2"'::regclass AND NOT attisdropped`,
        );
        expect(columns.rows.map((c) => c.name)).not.toContain('lexemes');
        expect(columns.rows.map((c) => c.name)).toEqual(expect.arrayContaining(['terms', 'lexeme_count']));
      } finally {
        await after.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps 384-dimension vectors in the row, not in TOAST, when the row passes 2 kB', async () => {
    const store = await PgliteVectorStore.open();
    try {
      const random = seeded(1);
      await store.ensureCollection('chunks_inline_384', 384);
      await store.upsert(
        'chunks_inline_384',
        [0, 1, 2].map((i) => ({
          id: id(i),
          vector: Array.from({ length: 384 }, () => random() - 0.5),
          // With the text and its lexemes, the row is past PostgreSQL's 2 kB TOAST threshold.
          payload: payload(`d${i}`, Array.from({ length: 120 }, (_, w) => `word${w}x${i}`).join(' ')),
        })),
      );
      const toasted = await sqlOf(store).query<{ bytes: number }>(
        `SELECT pg_relation_size(reltoastrelid)::int AS bytes FROM pg_class WHERE oid = '"chunks_inline_384"'::regclass`,
      );
      expect(toasted.rows[0]?.bytes).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('builds the HNSW index once after a bulk load, and filters by tenant and ACL with or without it', async () => {
    const store = await PgliteVectorStore.open({ hnswMinRows: 100 });
    const name = 'chunks_bulk_8';
    try {
      const random = seeded(7);
      await store.ensureCollection(name, 8);
      const points = Array.from({ length: 600 }, (_, i) => ({
        id: id(i),
        vector: Array.from({ length: 8 }, () => random() - 0.5),
        payload: {
          ...payload(`d${i}`, `chunk ${i}`),
          tenant: i % 2 ? 'a' : 'b',
          aclGroups: i % 3 ? [] : ['g'],
        },
      }));
      const hasIndex = async () =>
        (await sqlOf(store).query(`SELECT 1 FROM pg_class WHERE oid = to_regclass('"chunks_bulk_8_hnsw"')`))
          .rows.length === 1;
      // One batch of 600 rows is a bulk load: no row-by-row inserts into a graph.
      await store.upsert(name, points);
      expect(await hasIndex()).toBe(false);
      const query = { tenant: 'a', collections: ['c'], groups: [], limit: 10 };
      const exact = await store.search(name, points[7].vector, { ...query });
      await store.buildIndexes(name);
      expect(await hasIndex()).toBe(true);
      const indexed = await store.search(name, points[7].vector, { ...query });
      // A scope this small is read exactly even with the index: the same rows as a brute-force
      // ranking of the readable points (the graph walk under a filter misses some).
      const cosine = (a: number[], b: number[]) =>
        a.reduce((sum, x, d) => sum + x * b[d], 0) / (Math.hypot(...a) * Math.hypot(...b));
      for (const q of [7, 100, 333]) {
        const brute = points
          .filter((p) => p.payload.tenant === 'a' && p.payload.aclGroups.length === 0)
          .sort((x, y) => cosine(points[q].vector, y.vector) - cosine(points[q].vector, x.vector))
          .slice(0, 10)
          .map((p) => p.id);
        const found = await store.search(name, points[q].vector, { ...query });
        expect(new Set(found.map((f) => f.id))).toEqual(new Set(brute));
      }
      for (const found of [exact, indexed]) {
        expect(found[0]?.id).toBe(id(7));
        expect(found).toHaveLength(10);
        expect(found.every((f) => f.payload.tenant === 'a' && f.payload.aclGroups.length === 0)).toBe(true);
      }
      // Ranked by a document's own words with BM25 over its JSON term frequencies.
      const lexical = await store.lexicalSearch(name, { ...query, text: 'chunk 7' });
      expect(lexical[0]?.payload.documentId).toBe('d7');
    } finally {
      await store.close();
    }
  });

  it('answers a hybrid query in one read of the scope with what search, lexicalSearch, rankIds and count give', async () => {
    // exactScopeMaxRows 0: every scope is "large", so hybridSearch runs the separate queries.
    const [onePass, apart] = await Promise.all([
      PgliteVectorStore.open({ hnswMinRows: 100_000 }),
      PgliteVectorStore.open({ hnswMinRows: 100_000, exactScopeMaxRows: 0 }),
    ]);
    const name = 'chunks_hybrid_8';
    try {
      const random = seeded(11);
      const words = ['badge', 'refund', 'laptop', 'travel', 'hotel', 'vpn'];
      const points = Array.from({ length: 600 }, (_, i) => ({
        id: id(i),
        vector: Array.from({ length: 8 }, () => random() - 0.5),
        payload: {
          ...payload(`d${i}`, Array.from({ length: 6 }, () => words[Math.floor(random() * 6)]).join(' ')),
          tenant: i % 3 ? 'a' : 'b',
          collection: i % 4 ? 'c' : 'other',
          aclGroups: i % 5 ? [] : [`g${i % 2}`],
        },
      }));
      for (const store of [onePass, apart]) {
        await store.ensureCollection(name, 8);
        await store.upsert(name, points);
      }
      // The separate queries use an HNSW index, as they do on scopes too large to read exactly.
      await sqlOf(apart).exec(`CREATE INDEX ON "${name}" USING hnsw (embedding vector_cosine_ops)`);
      for (const [q, groups] of [
        [3, ['g0']],
        [42, []],
        [99, ['g1', 'g0']],
      ] as const) {
        const query = {
          tenant: 'a',
          collections: ['c', 'other'],
          groups,
          limit: 20,
          minScore: 0,
          text: 'badge hotel refunds',
          withheld: { limit: 10, minScore: 0.1 },
        };
        const vector = points[q].vector;
        const one = await onePass.hybridSearch(name, vector, query);
        const ranked = await onePass.rankIds(name, vector, { ...query, ...query.withheld });
        const readable = await onePass.count(name, { tenant: 'a', ids: ranked.map((r) => r.id), groups });
        expect(one.withheld).toBe(ranked.length - readable);
        expect(one.vector).toEqual(await onePass.search(name, vector, query));
        // The BM25 list: lexicalSearch's, less the matches below minScore (cosine) to the vector.
        const byWords = await onePass.lexicalSearch(name, query);
        const near = byWords.filter((c) => cosine(points[Number(c.id.slice(-12))].vector, vector) >= 0);
        expect(near.length).toBeLessThan(byWords.length);
        expect(one.lexical).toEqual(near);
        expect(one.vector).toHaveLength(20);
        expect(one.lexical.length).toBeGreaterThan(0);
        const separate = await apart.hybridSearch(name, vector, query);
        expect(separate.withheld).toBe(one.withheld);
        expect(separate.lexical).toEqual(one.lexical);
        expect(separate.vector[0]).toEqual(one.vector[0]);
      }
    } finally {
      await Promise.all([onePass.close(), apart.close()]);
    }
  });

  it('runs the reads of a query prepared, with the rows the unnamed reads give (tenants, ACLs, superseded documents)', async () => {
    const [prepared, unnamed] = await Promise.all([
      PgliteVectorStore.open(),
      PgliteVectorStore.open({ preparedStatements: false }),
    ]);
    const name = 'chunks_prepared_8';
    try {
      const random = seeded(23);
      const words = ['badge', 'refund', 'laptop', 'travel', 'hotel', 'vpn', 'policy', 'expenses'];
      const points = Array.from({ length: 400 }, (_, i) => ({
        id: id(i),
        // float4 values, as embedding models give: a double exactly halfway between two float4s
        // is rounded to even in binary but may round the other way from its shortest decimal text.
        vector: Array.from({ length: 8 }, () => Math.fround(random() - 0.5)),
        payload: {
          ...payload(
            `d${i % 40}`,
            Array.from({ length: 8 }, () => words[Math.floor(random() * 8)]).join(' '),
          ),
          tenant: i % 3 ? 'a' : 'b',
          collection: i % 4 ? 'c' : 'other',
          aclGroups: i % 5 ? [] : [`g${i % 2}`],
          chunkIndex: Math.floor(i / 40),
          // Documents d30-d39 replace d0-d9, from dates on both sides of the queries' asOf.
          ...(i % 40 >= 30
            ? { supersedes: [`d${(i % 40) - 30}`], effectiveDate: i % 2 ? '2025-01-01' : '2027-01-01' }
            : {}),
        },
      }));
      for (const store of [prepared, unnamed]) {
        await store.ensureCollection(name, 8);
        await store.upsert(name, points);
      }
      const reads = jest.spyOn(sqlOf(prepared), 'query');
      // Past five executions PostgreSQL may switch a prepared statement to its generic plan.
      for (let round = 0; round < 7; round++) {
        for (const [q, tenant, groups, collections, text] of [
          [3, 'a', ['g0'], ['c', 'other'], 'badge hotel refunds'],
          [42, 'a', [], ['c'], 'travel policy'],
          [99, 'b', ['g1', 'g0'], ['c', 'other'], 'vpn laptop badge expenses'],
          [7, 'b', [], ['other'], 'policies'],
        ] as const) {
          const vector = points[(q + round) % points.length].vector;
          const query = { tenant, collections, groups, limit: 15, minScore: -1, text };
          const asked = (store: PgliteVectorStore) =>
            Promise.all([
              store.hybridSearch(name, vector, { ...query, withheld: { limit: 10, minScore: 0.1 } }),
              store.search(name, vector, query),
              store.lexicalSearch(name, query),
              store.rankIds(name, vector, { tenant, collections, limit: 10 }),
              store.count(name, { tenant, collections, groups }),
              store.supersessions(name, { tenant, collections, groups }),
            ]);
          const answers = await asked(prepared);
          expect(answers).toEqual(await asked(unnamed));
          expect(answers[0].vector.length + answers[0].lexical.length).toBeGreaterThan(0);
        }
      }
      expect(reads).not.toHaveBeenCalled();
      const statements = await sqlOf(prepared).query<{ statement: string; runs: number }>(
        `SELECT statement, (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements`,
      );
      // One hybrid statement per number of query words, each run once per round.
      const hybridRuns = statements.rows
        .filter((s) => s.statement.includes('WITH scope AS MATERIALIZED'))
        .reduce((sum, s) => sum + s.runs, 0);
      expect(hybridRuns).toBe(4 * 7);
      const none = await sqlOf(unnamed).query(`SELECT 1 FROM pg_prepared_statements`);
      expect(none.rows).toHaveLength(0);
    } finally {
      await Promise.all([prepared.close(), unnamed.close()]);
    }
  });
});
