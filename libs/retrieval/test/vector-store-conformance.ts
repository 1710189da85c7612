// The behaviour every VectorStore adapter must show. Run by the PGlite spec always and by the
// Qdrant integration test when QDRANT_URL is set, so the adapter nobody can run locally stays honest.
import { randomUUID } from 'node:crypto';
import {
  chunkId,
  RetrievalError,
  supersessionOf,
  type ChunkPayload,
  type VectorPoint,
  type VectorStore,
} from '../src';

export interface ConformanceTarget {
  /** Opens a store; called once per suite. */
  open(): Promise<VectorStore>;
  /** Removes a store collection the suite created (a shared server must not fill up). */
  drop?(store: VectorStore, name: string): Promise<void>;
}

const DIM = 4;

function point(
  overrides: Partial<ChunkPayload> & Pick<ChunkPayload, 'tenant' | 'documentId'>,
  vector: number[],
): VectorPoint {
  const payload: ChunkPayload = {
    collection: 'wiki',
    aclGroups: [],
    version: 1,
    title: `Title of ${overrides.documentId}`,
    sourceUri: `https://docs.example/${overrides.documentId}`,
    sectionPath: ['Intro'],
    chunkIndex: 0,
    contentHash: 'h',
    text: `text of ${overrides.documentId}`,
    ...overrides,
  };
  return {
    id: chunkId(payload.tenant, payload.documentId, payload.version, payload.chunkIndex),
    vector: normalise(vector),
    payload,
  };
}

function normalise(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const QUERY = normalise([1, 0, 0, 0]);

/** Registers the conformance cases for one adapter. */
export function describeVectorStoreConformance(label: string, target: ConformanceTarget): void {
  describe(`${label} conforms to the VectorStore port`, () => {
    let store: VectorStore;
    let name: string;
    const created: string[] = [];

    beforeAll(async () => {
      store = await target.open();
    });
    afterAll(async () => {
      for (const n of created) await target.drop?.(store, n);
      await store?.close();
    });
    beforeEach(async () => {
      name = `conformance_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      created.push(name);
      await store.ensureCollection(name, DIM);
    });

    it('returns the nearest points first, with their payload and cosine scores', async () => {
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'far' }, [0, 1, 0, 0]),
        point({ tenant: 'a', documentId: 'near' }, [1, 0.1, 0, 0]),
        point({ tenant: 'a', documentId: 'mid' }, [1, 1, 0, 0]),
      ]);
      const found = await store.search(name, QUERY, {
        tenant: 'a',
        collections: ['wiki'],
        groups: [],
        limit: 2,
      });
      expect(found.map((f) => f.payload.documentId)).toEqual(['near', 'mid']);
      expect(found[0].score).toBeGreaterThan(found[1].score);
      expect(found[0].score).toBeCloseTo(1 / Math.hypot(1, 0.1), 4);
      expect(found[0].id).toBe(chunkId('a', 'near', 1, 0));
      expect(found[0].payload).toMatchObject({
        tenant: 'a',
        collection: 'wiki',
        title: 'Title of near',
        sectionPath: ['Intro'],
        chunkIndex: 0,
      });
    });

    it('leaves out points below minScore and collections that were not asked for', async () => {
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'orthogonal' }, [0, 1, 0, 0]),
        point({ tenant: 'a', documentId: 'other-collection', collection: 'runbooks' }, [1, 0, 0, 0]),
        point({ tenant: 'a', documentId: 'match' }, [1, 0.2, 0, 0]),
      ]);
      const found = await store.search(name, QUERY, {
        tenant: 'a',
        collections: ['wiki'],
        groups: [],
        limit: 10,
        minScore: 0.5,
      });
      expect(found.map((f) => f.payload.documentId)).toEqual(['match']);
      expect(
        await store.search(name, QUERY, { tenant: 'a', collections: [], groups: [], limit: 10 }),
      ).toEqual([]);
    });

    it("never returns another tenant's points, however near, and still fills the limit", async () => {
      const others = Array.from({ length: 40 }, (_, i) =>
        point({ tenant: 'b', documentId: `b${i}` }, [1, 0.001 * i, 0, 0]),
      );
      const mine = Array.from({ length: 3 }, (_, i) =>
        point({ tenant: 'a', documentId: `a${i}` }, [1, 1 + i, 0, 0]),
      );
      await store.upsert(name, [...others, ...mine]);
      const found = await store.search(name, QUERY, {
        tenant: 'a',
        collections: ['wiki'],
        groups: ['everyone'],
        limit: 3,
      });
      expect(found.map((f) => f.payload.documentId)).toEqual(['a0', 'a1', 'a2']);
      const ranked = await store.rankIds(name, QUERY, { tenant: 'a', collections: ['wiki'], limit: 10 });
      expect(ranked).toHaveLength(3);
      expect(await store.count(name, { tenant: 'a' })).toBe(3);
      expect(await store.count(name, { tenant: 'b', ids: ranked.map((r) => r.id) })).toBe(0);
    });

    it('shows a restricted point only to members of one of its groups; no groups means the whole tenant', async () => {
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'public' }, [1, 0.5, 0, 0]),
        point({ tenant: 'a', documentId: 'hr-only', aclGroups: ['hr'] }, [1, 0, 0, 0]),
        point({ tenant: 'a', documentId: 'hr-or-legal', aclGroups: ['legal', 'hr'] }, [1, 0.2, 0, 0]),
      ]);
      const ids = async (groups: string[]) =>
        (await store.search(name, QUERY, { tenant: 'a', collections: ['wiki'], groups, limit: 10 })).map(
          (f) => f.payload.documentId,
        );
      expect(await ids([])).toEqual(['public']);
      expect(await ids(['sales'])).toEqual(['public']);
      expect(await ids(['hr'])).toEqual(['hr-only', 'hr-or-legal', 'public']);
      expect(await ids(['legal', 'sales'])).toEqual(['hr-or-legal', 'public']);
    });

    it('counts withheld points: ranked ignoring ACLs, counted with them, no content returned', async () => {
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'public' }, [1, 0.5, 0, 0]),
        point({ tenant: 'a', documentId: 'secret-1', aclGroups: ['hr'] }, [1, 0, 0, 0]),
        point({ tenant: 'a', documentId: 'secret-2', aclGroups: ['hr'] }, [1, 0.1, 0, 0]),
        point({ tenant: 'a', documentId: 'secret-irrelevant', aclGroups: ['hr'] }, [0, 1, 0, 0]),
        point({ tenant: 'b', documentId: 'b-secret', aclGroups: ['hr'] }, [1, 0, 0, 0]),
      ]);
      const ranked = await store.rankIds(name, QUERY, {
        tenant: 'a',
        collections: ['wiki'],
        limit: 10,
        minScore: 0.5,
      });
      expect(ranked).toHaveLength(3);
      expect(Object.keys(ranked[0]).sort()).toEqual(['id', 'score']);
      const ids = ranked.map((r) => r.id);
      expect(await store.count(name, { tenant: 'a', ids, groups: [] })).toBe(1);
      expect(await store.count(name, { tenant: 'a', ids, groups: ['hr'] })).toBe(3);
      expect(await store.count(name, { tenant: 'a', ids: [] })).toBe(0);
    });

    it('replaces an old version: after upserting v2 and deleting all but v2, only v2 is listed and found', async () => {
      const v1 = [0, 1, 2].map((i) =>
        point({ tenant: 'a', documentId: 'doc', version: 1, chunkIndex: i, contentHash: `v1-${i}` }, [
          1,
          i,
          0,
          0,
        ]),
      );
      const v2 = [0, 1].map((i) =>
        point({ tenant: 'a', documentId: 'doc', version: 2, chunkIndex: i, contentHash: `v2-${i}` }, [
          1,
          i,
          0,
          0,
        ]),
      );
      const sameIdOtherTenant = point({ tenant: 'b', documentId: 'doc', version: 1 }, [1, 0, 0, 0]);
      await store.upsert(name, [...v1, sameIdOtherTenant]);
      await store.upsert(name, v2);
      expect(
        (await store.listDocumentChunks(name, 'a', 'doc')).map((c) => `${c.version}/${c.chunkIndex}`),
      ).toEqual(['1/0', '1/1', '1/2', '2/0', '2/1']);
      await store.deleteByFilter(name, {
        tenant: 'a',
        documentId: 'doc',
        keep: { version: 2, chunkCount: 2 },
      });
      const listed = await store.listDocumentChunks(name, 'a', 'doc');
      expect(listed.map((c) => [c.version, c.chunkIndex, c.contentHash])).toEqual([
        [2, 0, 'v2-0'],
        [2, 1, 'v2-1'],
      ]);
      expect(listed[0]).toMatchObject({
        id: chunkId('a', 'doc', 2, 0),
        collection: 'wiki',
        aclGroups: [],
        title: 'Title of doc',
      });
      const found = await store.search(name, QUERY, {
        tenant: 'a',
        collections: ['wiki'],
        groups: [],
        limit: 10,
      });
      expect(found.map((f) => f.payload.version)).toEqual([2, 2]);
      expect(await store.count(name, { tenant: 'b', documentId: 'doc' })).toBe(1);
    });

    it('drops chunks past the new chunk count when a version is re-indexed shorter', async () => {
      const long = [0, 1, 2].map((i) =>
        point({ tenant: 'a', documentId: 'doc', chunkIndex: i }, [1, i, 0, 0]),
      );
      await store.upsert(name, long);
      await store.deleteByFilter(name, {
        tenant: 'a',
        documentId: 'doc',
        keep: { version: 1, chunkCount: 2 },
      });
      expect((await store.listDocumentChunks(name, 'a', 'doc')).map((c) => c.chunkIndex)).toEqual([0, 1]);
    });

    it("deletes every point of a document in one tenant and nothing of another tenant's", async () => {
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'doc', chunkIndex: 0 }, [1, 0, 0, 0]),
        point({ tenant: 'a', documentId: 'doc', chunkIndex: 1 }, [1, 1, 0, 0]),
        point({ tenant: 'a', documentId: 'keep' }, [1, 0, 0, 0]),
        point({ tenant: 'b', documentId: 'doc' }, [1, 0, 0, 0]),
      ]);
      await store.deleteByFilter(name, { tenant: 'a', documentId: 'doc' });
      expect(await store.listDocumentChunks(name, 'a', 'doc')).toEqual([]);
      expect(await store.count(name, { tenant: 'a' })).toBe(1);
      expect(await store.count(name, { tenant: 'b', documentId: 'doc' })).toBe(1);
    });

    it('ranks lexical matches by BM25: a rare query word outweighs a common one', async () => {
      const common = Array.from({ length: 6 }, (_, i) =>
        point(
          { tenant: 'a', documentId: `common${i}`, text: `The expense policy applies to item ${i}.` },
          [0, 1, 0, 0],
        ),
      );
      await store.upsert(name, [
        ...common,
        point(
          { tenant: 'a', documentId: 'rare', text: 'Reimbursement of mileage follows the policy.' },
          [0, 1, 0, 0],
        ),
        point(
          { tenant: 'a', documentId: 'unrelated', text: 'Kubernetes nodes drain before upgrades.' },
          [0, 1, 0, 0],
        ),
      ]);
      const found = await store.lexicalSearch(name, {
        tenant: 'a',
        collections: ['wiki'],
        groups: [],
        limit: 3,
        text: 'mileage policy?',
      });
      expect(found[0].payload.documentId).toBe('rare');
      expect(found[0].payload.text).toBe('Reimbursement of mileage follows the policy.');
      expect(found.map((f) => f.payload.documentId)).not.toContain('unrelated');
      expect(found[0].score).toBeGreaterThan(found[1].score);
      expect(
        await store.lexicalSearch(name, {
          tenant: 'a',
          collections: ['wiki'],
          groups: [],
          limit: 3,
          text: 'the and of',
        }),
      ).toEqual([]);
    });

    it("matches words only in the tenant's readable chunks of the asked collections", async () => {
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'public', text: 'Payroll runs on the 25th.' }, [1, 0, 0, 0]),
        point(
          {
            tenant: 'a',
            documentId: 'hr-only',
            aclGroups: ['hr'],
            text: 'Payroll corrections need a ticket.',
          },
          [1, 0, 0, 0],
        ),
        point(
          {
            tenant: 'a',
            documentId: 'runbook',
            collection: 'runbooks',
            text: 'Payroll job restarts nightly.',
          },
          [1, 0, 0, 0],
        ),
        point({ tenant: 'b', documentId: 'other-tenant', text: 'Payroll payroll payroll.' }, [1, 0, 0, 0]),
      ]);
      const ids = async (groups: string[], collections = ['wiki']) =>
        (await store.lexicalSearch(name, { tenant: 'a', collections, groups, limit: 10, text: 'payroll' }))
          .map((f) => f.payload.documentId)
          .sort();
      expect(await ids([])).toEqual(['public']);
      expect(await ids(['hr'])).toEqual(['hr-only', 'public']);
      expect(await ids(['hr'], ['wiki', 'runbooks'])).toEqual(['hr-only', 'public', 'runbook']);
      expect(await ids(['hr'], [])).toEqual([]);
    });

    it('finds the best keyword match among more than 256 matching chunks, wherever its id sorts', async () => {
      // 400 chunks share one common word; the single chunk with both query words comes last by id
      // and by insertion: a store that scores only the first few hundred matches misses it.
      const many = Array.from({ length: 400 }, (_, i) =>
        point(
          {
            tenant: 'a',
            documentId: `filler${String(i).padStart(3, '0')}`,
            text: `Invoice batch ${i} was exported.`,
          },
          [0, 1, 0, 0],
        ),
      );
      const best = point(
        { tenant: 'a', documentId: 'zzz-best', text: 'Invoice disputes go to the receivables desk.' },
        [0, 1, 0, 0],
      );
      await store.upsert(name, [...many, best]);
      const found = await store.lexicalSearch(name, {
        tenant: 'a',
        collections: ['wiki'],
        groups: [],
        limit: 5,
        text: 'invoice disputes',
      });
      expect(found[0]?.payload.documentId).toBe('zzz-best');
    });

    it('matches words that occur only in the title or the section path', async () => {
      await store.upsert(name, [
        point(
          {
            tenant: 'a',
            documentId: 'titled',
            title: 'Relocation handbook',
            sectionPath: ['Moving allowance'],
            text: 'Claims are paid monthly.',
          },
          [0, 1, 0, 0],
        ),
        point({ tenant: 'a', documentId: 'other', text: 'Claims are paid weekly.' }, [0, 1, 0, 0]),
      ]);
      const ids = async (text: string) =>
        (
          await store.lexicalSearch(name, { tenant: 'a', collections: ['wiki'], groups: [], limit: 5, text })
        ).map((f) => f.payload.documentId);
      expect(await ids('relocation')).toEqual(['titled']);
      expect(await ids('allowance')).toEqual(['titled']);
    });

    it('matches plural and singular forms of a word (stemming)', async () => {
      await store.upsert(name, [
        point(
          { tenant: 'a', documentId: 'singular', text: 'The travel policy covers hotels.' },
          [0, 1, 0, 0],
        ),
        point({ tenant: 'a', documentId: 'plural', text: 'All laptops are encrypted.' }, [0, 1, 0, 0]),
      ]);
      const ids = async (text: string) =>
        (
          await store.lexicalSearch(name, { tenant: 'a', collections: ['wiki'], groups: [], limit: 5, text })
        ).map((f) => f.payload.documentId);
      expect(await ids('policies')).toEqual(['singular']);
      expect(await ids('hotel')).toEqual(['singular']);
      expect(await ids('laptop')).toEqual(['plural']);
    });

    it('answers a hybrid query with the lists of search and lexicalSearch, minScore applying to both', async () => {
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'near', text: 'Badges are printed at reception.' }, [1, 0.1, 0, 0]),
        point({ tenant: 'a', documentId: 'worded', text: 'Lost badge? Ask facilities.' }, [0, 1, 0, 0]),
        point({ tenant: 'a', documentId: 'hidden', aclGroups: ['hr'], text: 'Badge audit.' }, [1, 0, 0, 0]),
      ]);
      const query = { tenant: 'a', collections: ['wiki'], groups: [], limit: 5, minScore: 0.5 };
      const both = await store.hybridSearch(name, QUERY, { ...query, text: 'lost badge' });
      expect(both.vector.map((c) => c.payload.documentId)).toEqual(
        (await store.search(name, QUERY, query)).map((c) => c.payload.documentId),
      );
      const { minScore: _unused, ...lexical } = query;
      const byWords = await store.lexicalSearch(name, { ...lexical, text: 'lost badge' });
      expect(byWords.map((c) => c.payload.documentId)).toEqual(['worded', 'near']);
      // 'worded' matches both words but is orthogonal to the query vector (cosine 0 < 0.5).
      expect(both.lexical).toEqual(byWords.filter((c) => c.payload.documentId === 'near'));
      expect(both.vector.map((c) => c.payload.documentId)).toEqual(['near']);
      expect(both.withheld).toBeUndefined();
      const anyScore = await store.hybridSearch(name, QUERY, { ...lexical, text: 'lost badge' });
      expect(anyScore.lexical).toEqual(byWords);
    });

    it('counts withheld points in a hybrid query as rankIds and count do, and returns nothing of them', async () => {
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'public', text: 'Badge office hours.' }, [1, 0.5, 0, 0]),
        point({ tenant: 'a', documentId: 'secret-1', aclGroups: ['hr'], text: 'Badge audit.' }, [1, 0, 0, 0]),
        point(
          { tenant: 'a', documentId: 'secret-2', aclGroups: ['hr'], text: 'Badge list.' },
          [1, 0.1, 0, 0],
        ),
        point({ tenant: 'a', documentId: 'secret-far', aclGroups: ['hr'], text: 'Badge.' }, [0, 1, 0, 0]),
        point(
          { tenant: 'a', documentId: 'other-collection', collection: 'hr', aclGroups: ['hr'] },
          [1, 0, 0, 0],
        ),
        point({ tenant: 'b', documentId: 'b-secret', aclGroups: ['hr'], text: 'Badge.' }, [1, 0, 0, 0]),
      ]);
      const query = { tenant: 'a', collections: ['wiki'], limit: 5, minScore: 0.2, text: 'badge' };
      const outsider = await store.hybridSearch(name, QUERY, {
        ...query,
        groups: ['sales'],
        withheld: { limit: 10, minScore: 0.5 },
      });
      const ranked = await store.rankIds(name, QUERY, { ...query, limit: 10, minScore: 0.5 });
      const readable = await store.count(name, {
        tenant: 'a',
        ids: ranked.map((r) => r.id),
        groups: ['sales'],
      });
      expect(outsider.withheld).toBe(ranked.length - readable);
      expect(outsider.withheld).toBe(2);
      const shown = [...outsider.vector, ...outsider.lexical].map((c) => c.payload.documentId);
      expect(new Set(shown)).toEqual(new Set(['public']));
      // Only the nearest `limit` count, and a member sees everything: nothing withheld.
      expect(
        (await store.hybridSearch(name, QUERY, { ...query, groups: ['sales'], withheld: { limit: 1 } }))
          .withheld,
      ).toBe(1);
      expect(
        (await store.hybridSearch(name, QUERY, { ...query, groups: ['hr'], withheld: { limit: 10 } }))
          .withheld,
      ).toBe(0);
      expect(
        await store.hybridSearch(name, QUERY, {
          ...query,
          collections: [],
          groups: [],
          withheld: { limit: 10 },
        }),
      ).toEqual({ vector: [], lexical: [], withheld: 0 });
    });

    it("deletes a document's points only in the given collection when one is named", async () => {
      await store.upsert(name, [point({ tenant: 'a', documentId: 'doc' }, [1, 0, 0, 0])]);
      await store.deleteByFilter(name, { tenant: 'a', documentId: 'doc', collection: 'runbooks' });
      expect(await store.count(name, { tenant: 'a', documentId: 'doc' })).toBe(1);
      await store.deleteByFilter(name, { tenant: 'a', documentId: 'doc', collection: 'wiki' });
      expect(await store.count(name, { tenant: 'a', documentId: 'doc' })).toBe(0);
    });

    it('overwrites a point upserted again with the same id', async () => {
      await store.upsert(name, [point({ tenant: 'a', documentId: 'doc', text: 'old' }, [1, 0, 0, 0])]);
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'doc', text: 'new', aclGroups: ['hr'] }, [1, 0, 0, 0]),
      ]);
      expect(await store.count(name, { tenant: 'a' })).toBe(1);
      expect(
        await store.search(name, QUERY, { tenant: 'a', collections: ['wiki'], groups: [], limit: 5 }),
      ).toEqual([]);
      const [found] = await store.search(name, QUERY, {
        tenant: 'a',
        collections: ['wiki'],
        groups: ['hr'],
        limit: 5,
      });
      expect(found.payload.text).toBe('new');
    });

    it('refuses to reuse a collection with another dimension', async () => {
      await expect(store.ensureCollection(name, DIM + 1)).rejects.toMatchObject({
        code: 'dimension_mismatch',
      });
      await expect(store.ensureCollection(name, DIM + 1)).rejects.toBeInstanceOf(RetrievalError);
      await expect(store.ensureCollection(name, DIM)).resolves.toBeUndefined();
    });

    it('keeps supersession metadata on every chunk: supersedes, effective date and a free-form version label', async () => {
      await store.upsert(name, [
        point(
          {
            tenant: 'a',
            documentId: 'travel-2024',
            supersedes: ['travel-2023'],
            effectiveDate: '2024-01-01',
            versionLabel: 'FY2024.1',
          },
          [1, 0, 0, 0],
        ),
      ]);
      const [found] = await store.search(name, QUERY, {
        tenant: 'a',
        collections: ['wiki'],
        groups: [],
        limit: 1,
      });
      expect(found.payload).toMatchObject({
        supersedes: ['travel-2023'],
        effectiveDate: '2024-01-01',
        versionLabel: 'FY2024.1',
      });
      const [listed] = await store.listDocumentChunks(name, 'a', 'travel-2024');
      expect(listed).toMatchObject({
        supersedes: ['travel-2023'],
        effectiveDate: '2024-01-01',
        versionLabel: 'FY2024.1',
      });
    });

    it('lists the supersession links of readable documents in the scope, whatever their effective date', async () => {
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'travel-2023' }, [1, 0, 0, 0]),
        point(
          {
            tenant: 'a',
            documentId: 'travel-2024',
            supersedes: ['travel-2023'],
            effectiveDate: '2024-01-01',
            versionLabel: 'FY2024',
          },
          [1, 0, 0, 0],
        ),
        point(
          {
            tenant: 'a',
            documentId: 'travel-2027',
            supersedes: ['travel-2024'],
            effectiveDate: '2027-01-01',
          },
          [1, 0, 0, 0],
        ),
        point({ tenant: 'a', documentId: 'msa-amendment', supersedes: ['msa'] }, [1, 0, 0, 0]),
        point(
          { tenant: 'a', documentId: 'secret-v2', supersedes: ['secret-v1'], aclGroups: ['legal'] },
          [1, 0, 0, 0],
        ),
        point(
          { tenant: 'a', documentId: 'other-v2', collection: 'other', supersedes: ['other-v1'] },
          [1, 0, 0, 0],
        ),
        point({ tenant: 'b', documentId: 'b-v2', supersedes: ['b-v1'] }, [1, 0, 0, 0]),
      ]);
      const links = (groups: string[]) =>
        store.supersessions(name, { tenant: 'a', collections: ['wiki'], groups });
      expect(await links([])).toEqual([
        { documentId: 'msa-amendment', supersedes: ['msa'] },
        {
          documentId: 'travel-2024',
          supersedes: ['travel-2023'],
          effectiveDate: '2024-01-01',
          versionLabel: 'FY2024',
        },
        { documentId: 'travel-2027', supersedes: ['travel-2024'], effectiveDate: '2027-01-01' },
      ]);
      // secret-v2 only for "legal".
      expect((await links(['legal'])).map((l) => l.documentId)).toEqual([
        'msa-amendment',
        'secret-v2',
        'travel-2024',
        'travel-2027',
      ]);
      const retired = (asOf: string) => [...supersessionOf([], asOf).retired];
      expect(retired('2026-11-30')).toEqual([]);
      const on = async (asOf: string) => [...supersessionOf(await links([]), asOf).retired].sort();
      // travel-2027 is not in effect yet.
      expect(await on('2026-11-30')).toEqual(['msa', 'travel-2023']);
      expect(await on('2027-01-01')).toEqual(['msa', 'travel-2023', 'travel-2024']);
      expect(await on('2023-06-30')).toEqual(['msa']);
      expect(
        await store.supersessions(`missing_${randomUUID().replace(/-/g, '').slice(0, 12)}`, {
          tenant: 'a',
          collections: ['wiki'],
          groups: [],
        }),
      ).toEqual([]);
    });

    it("keeps a wholly deleted document's links, so deleting the middle of a chain leaves the oldest retired", async () => {
      const chain = [
        point({ tenant: 'a', documentId: 'p-2023', effectiveDate: '2023-01-01' }, [1, 0, 0, 0]),
        point(
          { tenant: 'a', documentId: 'p-2024', supersedes: ['p-2023'], effectiveDate: '2024-01-01' },
          [1, 0, 0, 0],
        ),
        point(
          { tenant: 'a', documentId: 'p-2025', supersedes: ['p-2024'], effectiveDate: '2025-01-01' },
          [1, 0, 0, 0],
        ),
        // Another tenant's and another collection's deletions are not this scope's.
        point({ tenant: 'b', documentId: 'p-2024', supersedes: ['p-2023'] }, [1, 0, 0, 0]),
        point(
          { tenant: 'a', documentId: 'q-2024', collection: 'other', supersedes: ['q-2023'] },
          [1, 0, 0, 0],
        ),
      ];
      await store.upsert(name, chain);
      // Replacing a version (keep) is no withdrawal.
      await store.deleteByFilter(name, {
        tenant: 'a',
        documentId: 'p-2024',
        keep: { version: 1, chunkCount: 1 },
      });
      await store.deleteByFilter(name, { tenant: 'a', documentId: 'p-2024' });
      await store.deleteByFilter(name, { tenant: 'b', documentId: 'p-2024' });
      await store.deleteByFilter(name, { tenant: 'a', documentId: 'q-2024', collection: 'other' });
      // A document that supersedes nothing leaves no link.
      await store.deleteByFilter(name, { tenant: 'a', documentId: 'never-indexed' });
      const links = await store.supersessions(name, { tenant: 'a', collections: ['wiki'], groups: [] });
      expect(links).toEqual([
        { documentId: 'p-2024', supersedes: ['p-2023'], withdrawn: true },
        { documentId: 'p-2025', supersedes: ['p-2024'], effectiveDate: '2025-01-01' },
      ]);
      expect([...supersessionOf(links, '2026-11-30').retired].sort()).toEqual(['p-2023', 'p-2024']);
      // Deleting the newest too: nothing live supersedes 2023 any more, so it applies again.
      await store.deleteByFilter(name, { tenant: 'a', documentId: 'p-2025' });
      const after = await store.supersessions(name, { tenant: 'a', collections: ['wiki'], groups: [] });
      expect([...supersessionOf(after, '2026-11-30').retired]).toEqual([]);
      // Submitted again, a withdrawn document's own links count, not the recorded ones.
      await store.upsert(name, [
        point({ tenant: 'a', documentId: 'p-2024', effectiveDate: '2024-01-01' }, [1, 0, 0, 0]),
      ]);
      expect(await store.supersessions(name, { tenant: 'a', collections: ['wiki'], groups: [] })).toEqual([
        { documentId: 'p-2025', supersedes: ['p-2024'], withdrawn: true },
      ]);
      // Withdrawn again without supersedes, its earlier links are forgotten.
      await store.deleteByFilter(name, { tenant: 'a', documentId: 'p-2024' });
      expect(await store.supersessions(name, { tenant: 'a', collections: ['wiki'], groups: [] })).toEqual([
        { documentId: 'p-2025', supersedes: ['p-2024'], withdrawn: true },
      ]);
      // Recorded links are no points: p-2023 is the tenant's only one left.
      expect(await store.count(name, { tenant: 'a' })).toBe(1);
    });

    it('keeps one member of a supersession cycle that slipped past ingestion live: the newest in effect', async () => {
      // Two submissions racing under different keys can each pass the cycle check.
      await store.upsert(name, [
        point(
          {
            tenant: 'a',
            documentId: 'c-a',
            supersedes: ['c-b'],
            effectiveDate: '2024-01-01',
            versionLabel: 'A',
          },
          [1, 0, 0, 0],
        ),
        point(
          {
            tenant: 'a',
            documentId: 'c-b',
            supersedes: ['c-a'],
            effectiveDate: '2025-01-01',
            versionLabel: 'B',
          },
          [1, 0, 0, 0],
        ),
        point({ tenant: 'a', documentId: 'c-old', effectiveDate: '2020-01-01' }, [1, 0, 0, 0]),
        point({ tenant: 'a', documentId: 'c-z', supersedes: ['c-old', 'c-a'] }, [1, 0, 0, 0]),
      ]);
      const links = await store.supersessions(name, { tenant: 'a', collections: ['wiki'], groups: [] });
      expect(links.map((l) => l.documentId)).toEqual(['c-a', 'c-b', 'c-z']);
      const cycle = links.filter((l) => l.documentId !== 'c-z');
      // c-b, the newest in effect, stays; before it applies, c-a is the only one in effect and stays.
      expect([...supersessionOf(cycle, '2026-11-30').retired]).toEqual(['c-a']);
      expect([...supersessionOf(cycle, '2024-06-01').retired]).toEqual(['c-b']);
      // A document outside the cycle that supersedes a member supersedes the cycle, as any chain.
      expect([...supersessionOf(links, '2026-11-30').retired].sort()).toEqual(['c-a', 'c-b', 'c-old']);
    });

    it('reads a collection that does not exist yet as empty', async () => {
      const missing = `missing_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      expect(
        await store.search(missing, QUERY, { tenant: 'a', collections: ['wiki'], groups: [], limit: 5 }),
      ).toEqual([]);
      expect(await store.rankIds(missing, QUERY, { tenant: 'a', collections: ['wiki'], limit: 5 })).toEqual(
        [],
      );
      expect(await store.count(missing, { tenant: 'a' })).toBe(0);
      expect(
        await store.lexicalSearch(missing, {
          tenant: 'a',
          collections: ['wiki'],
          groups: [],
          limit: 5,
          text: 'anything',
        }),
      ).toEqual([]);
      expect(await store.listDocumentChunks(missing, 'a', 'doc')).toEqual([]);
      await expect(
        store.deleteByFilter(missing, { tenant: 'a', documentId: 'doc' }),
      ).resolves.toBeUndefined();
    });
  });
}
