import { mkdirSync } from 'node:fs';
import { truncateText } from '@llmbus/contracts';
import { PGlite, type Results } from '@electric-sql/pglite';
import { vector as pgvector } from '@electric-sql/pglite-pgvector';
import { PglitePreparedStatements } from '@llmbus/pglite';
import { RetrievalError } from '../errors';
import type {
  ChunkPayload,
  DocumentDeletion,
  DocumentReadQuery,
  HybridLists,
  HybridQuery,
  LexicalQuery,
  PointFilter,
  RankedId,
  Scope,
  ScoredChunk,
  SearchQuery,
  StoredChunk,
  SupersessionLink,
  SupersessionQuery,
  VectorPoint,
  VectorStore,
} from '../vector-store';
import { assertCollectionName, vectorBinary, vectorLiteral } from './store-names';

export interface PgliteVectorStoreOptions {
  /** Directory for the database files; in memory when omitted. */
  readonly dataDir?: string;
  /**
   * Table rows from which an HNSW index is built (after a bulk load, or by the write that reaches
   * it); below, vector queries read the scope exactly. Default 20,000.
   */
  readonly hnswMinRows?: number;
  /**
   * Scope rows (tenant and collections, before ACLs) up to which `hybridSearch` reads the scope
   * once, exactly, for both lists and the withheld count, even when an HNSW index exists; larger
   * scopes with an HNSW index query the graph. Default 50,000.
   */
  readonly exactScopeMaxRows?: number;
  /**
   * Whether the reads a query makes (search lists, query words, scope statistics, supersessions)
   * run as named prepared statements, planned once per connection, rather than parsed and planned
   * at every call. Same rows either way; false exists to compare the two. Default true.
   */
  readonly preparedStatements?: boolean;
}

interface ChunkRow {
  id: string;
  tenant: string;
  collection: string;
  acl_groups: string[];
  document_id: string;
  version: number;
  title: string;
  source_uri: string;
  section_path: string[];
  chunk_index: number;
  content_hash: string;
  text: string;
  supersedes: string[] | null;
  effective_date: string | null;
  version_label: string | null;
}

/**
 * The embedded vector store: Postgres (PGlite, WASM, in-process) with pgvector. One table per store
 * collection, an HNSW cosine index with iterative scans so filtered queries still fill their limit.
 */
export class PgliteVectorStore implements VectorStore {
  readonly kind = 'pglite';
  private readonly dimensions = new Map<string, number>();
  /** BM25 statistics per table, then per scope and groups; a table's are dropped on every write to it. */
  private readonly statistics = new Map<string, Map<string, LexicalStatistics>>();
  /** Supersession links per table, then per query; a table's are dropped on every write to it. */
  private readonly links = new Map<string, Map<string, readonly SupersessionLink[]>>();
  /** Tables whose withdrawn-links table is known to exist. */
  private readonly withdrawnTables = new Set<string>();
  /** The lexemes of query texts seen lately (to_tsvector of a text never changes). */
  private readonly textLexemes = new Map<string, readonly string[]>();
  /** Planner statistics and vector index state per table (PGlite has no autovacuum to keep them). */
  private readonly upkeep = new Map<string, TableUpkeep>();

  /** The per-query reads, prepared; undefined when they run unnamed (preparedStatements false). */
  private readonly prepared: PglitePreparedStatements | undefined;

  private constructor(
    private readonly db: PGlite,
    private readonly hnswMinRows: number,
    private readonly exactScopeMaxRows: number,
    prepare: boolean,
  ) {
    this.prepared = prepare ? new PglitePreparedStatements(db) : undefined;
  }

  /** Opens (or creates) the store; loads pgvector. */
  static async open(options: PgliteVectorStoreOptions = {}): Promise<PgliteVectorStore> {
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    const db = await PGlite.create({ dataDir: options.dataDir, extensions: { vector: pgvector } });
    await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
    // Without iterative scans an HNSW scan stops after ef_search candidates, and a selective
    // tenant or ACL filter then returns fewer rows than asked for.
    await db.exec('SET hnsw.iterative_scan = strict_order');
    return new PgliteVectorStore(
      db,
      options.hnswMinRows ?? HNSW_MIN_ROWS,
      options.exactScopeMaxRows ?? EXACT_SCOPE_MAX_ROWS,
      options.preparedStatements ?? true,
    );
  }

  async ensureCollection(name: string, dimension: number): Promise<void> {
    const table = assertCollectionName(name);
    if (this.dimensions.get(name) === dimension) return;
    if (!Number.isInteger(dimension) || dimension < 1 || dimension > 16000) {
      throw new RetrievalError(
        'dimension_mismatch',
        `dimension must be an integer from 1 to 16000, got ${dimension}`,
      );
    }
    const existing = await this.existingDimension(name);
    if (existing !== undefined && existing !== dimension) {
      throw new RetrievalError(
        'dimension_mismatch',
        `store collection ${name} holds ${existing}-dimensional vectors, not ${dimension}; use a collection per embedding model and dimension`,
      );
    }
    if (existing === undefined) {
      await this.db.exec(`
        CREATE TABLE IF NOT EXISTS ${table} (
          id uuid PRIMARY KEY,
          tenant text NOT NULL,
          collection text NOT NULL,
          acl_groups text[] NOT NULL,
          document_id text NOT NULL,
          version integer NOT NULL,
          title text NOT NULL,
          source_uri text NOT NULL,
          section_path text[] NOT NULL,
          chunk_index integer NOT NULL,
          content_hash text NOT NULL,
          text text NOT NULL,
          embedding vector(${dimension}) NOT NULL,
          lexeme_count integer,
          terms jsonb,
          supersedes text[] NOT NULL DEFAULT '{}',
          effective_date text,
          version_label text
        ) WITH (toast_tuple_target = ${TOAST_TUPLE_TARGET});
        CREATE INDEX IF NOT EXISTS ${quoted(`${name}_doc`)} ON ${table} (tenant, document_id, version, chunk_index);
        CREATE INDEX IF NOT EXISTS ${quoted(`${name}_scope`)} ON ${table} (tenant, collection);
        CREATE INDEX IF NOT EXISTS ${quoted(`${name}_acl`)} ON ${table} USING gin (acl_groups);
      `);
    }
    await this.ensureLexicalIndex(name);
    await this.ensureSupersessionColumns(name);
    await this.ensureInlineVectors(name);
    this.dimensions.set(name, dimension);
  }

  /**
   * Brings the table's planner statistics and vector index up to date now, instead of at the next
   * query: gathers statistics (ANALYZE) when many rows changed since they were last gathered, and
   * builds the HNSW index once the table holds `hnswMinRows` rows. Bulk loads defer both (see
   * `upsert`), so a loader calls this once after its last batch; queries call it otherwise.
   */
  async buildIndexes(name: string): Promise<void> {
    assertCollectionName(name);
    if (!(await this.exists(name))) return;
    await this.maintain(name);
  }

  async upsert(name: string, points: readonly VectorPoint[]): Promise<void> {
    if (points.length === 0) return;
    await this.writing(name, () => this.upsertRows(name, points));
  }

  /**
   * Runs a write to table `name`, dropping what was read from it and kept (forgetReads) before and
   * after: a query's read issued while the write was on its way to the database (between its start
   * and its statement) saw the table before the write, and kept it until the next write (a
   * replacement's supersession link missing, its superseded version returned, for days).
   */
  private async writing<T>(name: string, write: () => Promise<T>): Promise<T> {
    this.forgetReads(name);
    try {
      return await write();
    } finally {
      this.forgetReads(name);
    }
  }

  private async upsertRows(name: string, points: readonly VectorPoint[]): Promise<void> {
    const table = assertCollectionName(name);
    const upkeep = await this.upkeepOf(name);
    const bulk = points.length >= BULK_ROWS;
    // Inserting into HNSW goes row by row through the graph (milliseconds a row in WASM); a bulk
    // batch large against the table drops the index and builds it again, in one pass, before the
    // next query (or at buildIndexes).
    if (bulk && upkeep.hnsw && points.length >= upkeep.rows * BULK_REBUILD_SHARE) {
      await this.db.exec(`DROP INDEX IF EXISTS ${quoted(`${name}_hnsw`)}`);
      upkeep.hnsw = false;
    }
    // One statement per batch (rows as one JSON parameter): a statement per row costs a parse, a
    // plan and a round trip each, which dominated bulk loads. ON CONFLICT may not touch a row twice
    // in one statement, so a point repeated in the batch keeps only its last occurrence, as
    // row-by-row upserts would.
    const last = new Map<string, VectorPoint>();
    for (const point of points) {
      last.delete(point.id);
      last.set(point.id, point);
    }
    const rows = [...last.values()].map(({ id, vector, payload: p }) => ({
      id,
      tenant: p.tenant,
      collection: p.collection,
      acl_groups: p.aclGroups,
      document_id: p.documentId,
      version: p.version,
      title: p.title,
      source_uri: p.sourceUri,
      section_path: p.sectionPath,
      chunk_index: p.chunkIndex,
      content_hash: p.contentHash,
      text: p.text,
      embedding: vectorLiteral(vector),
      supersedes: p.supersedes ?? [],
      effective_date: p.effectiveDate ?? null,
      version_label: p.versionLabel ?? null,
    }));
    await this.db.query(
      `INSERT INTO ${table} (id, tenant, collection, acl_groups, document_id, version, title, source_uri,
         section_path, chunk_index, content_hash, text, embedding, lexeme_count, terms, supersedes,
         effective_date, version_label)
       SELECT r.id, r.tenant, r.collection, r.acl_groups, r.document_id, r.version, r.title, r.source_uri,
              r.section_path, r.chunk_index, r.content_hash, r.text, r.embedding::vector,
              (SELECT coalesce(sum(cardinality(u.positions)), 0)::int FROM unnest(l.v) u), ${termsOf('l.v')}, r.supersedes,
              r.effective_date, r.version_label
         FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, tenant text, collection text, acl_groups text[],
              document_id text, version integer, title text, source_uri text, section_path text[],
              chunk_index integer, content_hash text, text text, embedding text, supersedes text[],
              effective_date text, version_label text)
        CROSS JOIN LATERAL (SELECT ${lexemesOf('r.title', 'r.section_path', 'r.text')} AS v) l
        -- Rows of one scope land on neighbouring pages: a query reads its scope's pages, and a
        -- batch mixing tenants otherwise spreads each scope over every page of the table.
        ORDER BY r.tenant, r.collection, r.document_id, r.chunk_index
       ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, collection = EXCLUDED.collection,
         acl_groups = EXCLUDED.acl_groups, document_id = EXCLUDED.document_id, version = EXCLUDED.version,
         title = EXCLUDED.title, source_uri = EXCLUDED.source_uri, section_path = EXCLUDED.section_path,
         chunk_index = EXCLUDED.chunk_index, content_hash = EXCLUDED.content_hash, text = EXCLUDED.text,
         embedding = EXCLUDED.embedding, lexeme_count = EXCLUDED.lexeme_count,
         terms = EXCLUDED.terms,
         supersedes = EXCLUDED.supersedes, effective_date = EXCLUDED.effective_date,
         version_label = EXCLUDED.version_label`,
      // Lone surrogates become U+FFFD, as the UTF-8 encoding of a text parameter would make them.
      [
        JSON.stringify(rows, (_key, value: unknown) =>
          typeof value === 'string' ? value.toWellFormed() : value,
        ),
      ],
    );
    upkeep.changed += rows.length;
    upkeep.rows += rows.length;
    // A small write (one document) keeps statistics and index current itself; a bulk load leaves
    // them to its end.
    if (!bulk) await this.maintainIfStale(name);
  }

  async search(name: string, vector: readonly number[], query: SearchQuery): Promise<ScoredChunk[]> {
    if (query.collections.length === 0 || query.limit < 1) return [];
    const where = new Where(this.queryVector(vector));
    where.scope(query).readableBy(query.groups);
    const rows = await this.selectNearest<ChunkRow & { score: number }>(name, where, query, CHUNK_COLUMNS);
    return rows.map((row) => ({ id: row.id, score: row.score, payload: toPayload(row) }));
  }

  async lexicalSearch(name: string, query: LexicalQuery): Promise<ScoredChunk[]> {
    const table = assertCollectionName(name);
    if (query.collections.length === 0 || query.limit < 1 || query.text.trim() === '') return [];
    if (!(await this.exists(name))) return [];
    await this.maintainIfStale(name);
    const where = new Where();
    const bm25 = await this.bm25(name, query, where, 'c');
    if (!bm25) return [];
    where.scope(query).readableBy(query.groups);
    const limit = where.param(Math.floor(query.limit));
    const result = await this.read<ChunkRow & { score: number }>(
      `WITH best AS (
         SELECT c.id, ${bm25.score} AS score FROM ${table} c
          WHERE ${where.sql()} AND ${bm25.matches}
          ORDER BY score DESC, c.id LIMIT ${limit}
       )
       SELECT ${CHUNK_COLUMNS.split(', ')
         .map((column) => `c.${column}`)
         .join(', ')}, b.score
         FROM best b JOIN ${table} c ON c.id = b.id
        ORDER BY b.score DESC, c.id`,
      where.params,
    );
    return result.rows.map((row) => ({ id: row.id, score: row.score, payload: toPayload(row) }));
  }

  /**
   * Both lists in one read of the scope when it is small enough to read exactly
   * (`exactScopeMaxRows`): each row's distance, readability and BM25 score are computed once, and
   * the vector list, the BM25 list and the withheld count are taken from them. Larger scopes with
   * an HNSW index run `search`, `rankIds` and `lexicalSearch` apart, so the vector queries can walk
   * the graph instead of the scope.
   */
  async hybridSearch(name: string, vector: readonly number[], query: HybridQuery): Promise<HybridLists> {
    const table = assertCollectionName(name);
    const { text, minScore, withheld, ...lexical } = query;
    const counted = withheld ? { withheld: 0 } : {};
    if (query.collections.length === 0 || query.limit < 1 || !(await this.exists(name)))
      return { vector: [], lexical: [], ...counted };
    await this.maintainIfStale(name);
    const upkeep = await this.upkeepOf(name);
    const scope = await this.scopeStatistics(name, query);
    if (upkeep.hnsw && scope.scopeRows > this.exactScopeMaxRows) return this.hybridApart(name, vector, query);
    const where = new Where(this.queryVector(vector));
    const bm25 = text.trim() === '' ? undefined : await this.bm25(name, { ...lexical, text }, where, 'c');
    const readable = `(cardinality(c.acl_groups) = 0 OR c.acl_groups && ${where.param([...query.groups])}::text[])`;
    where.scope(query);
    const limit = where.param(Math.floor(query.limit));
    const ranking = withheld
      ? `(SELECT count(*) FILTER (WHERE NOT r.readable AND 1 - r.distance >= ${where.param(withheld.minScore ?? -2)}::float8)
            FROM (SELECT readable, distance FROM scope ORDER BY distance LIMIT ${where.param(Math.max(0, Math.floor(withheld.limit)))}) r)::int`
      : '0';
    // The BM25 list's best `limit` matches, then only those near enough to the vector (minScore).
    const near =
      minScore === undefined || !bm25 ? '' : `WHERE 1 - l.distance >= ${where.param(minScore)}::float8`;
    const lexicalList = bm25
      ? `UNION ALL
         SELECT 'lexical', row_number() OVER (ORDER BY bm25 DESC, id), id, bm25 FROM (
           SELECT id, bm25, distance FROM scope WHERE readable AND bm25 IS NOT NULL ORDER BY bm25 DESC, id LIMIT ${limit}) l
           ${near}`
      : '';
    // One row per listed chunk with its list, rank and score (a row with only the count when both
    // lists are empty).
    const result = await this.read<
      ChunkRow & { list: 'vector' | 'lexical' | null; rank: number; score: number; withheld: number }
    >(
      `WITH scope AS MATERIALIZED (
         SELECT c.id, c.embedding <=> $1::vector AS distance, ${readable} AS readable,
                ${bm25 ? `CASE WHEN ${bm25.matches} AND ${readable} THEN ${bm25.score} END` : 'NULL::float8'} AS bm25
           FROM ${table} c WHERE ${where.sql()}
       ),
       listed AS (
         SELECT 'vector' AS list, row_number() OVER (ORDER BY distance) AS rank, id, 1 - distance AS score FROM (
           SELECT id, distance FROM scope WHERE readable ORDER BY distance LIMIT ${limit}) v
         ${lexicalList}
       )
       SELECT w.withheld, l.list, l.rank, l.score, ${CHUNK_COLUMNS.split(', ')
         .map((column) => `c.${column}`)
         .join(', ')}
         FROM (SELECT ${ranking} AS withheld) w
         LEFT JOIN (listed l JOIN ${table} c ON c.id = l.id) ON TRUE
        ORDER BY l.list, l.rank`,
      where.params,
    );
    const listed = (list: 'vector' | 'lexical') =>
      result.rows
        .filter((row) => row.list === list)
        .map((row) => ({ id: row.id, score: row.score, payload: toPayload(row) }));
    const nearest = listed('vector');
    return {
      vector: minScore === undefined ? nearest : nearest.filter((c) => c.score >= minScore),
      lexical: listed('lexical'),
      ...(withheld ? { withheld: result.rows[0]?.withheld ?? 0 } : {}),
    };
  }

  async rankIds(name: string, vector: readonly number[], scope: Scope): Promise<RankedId[]> {
    if (scope.collections.length === 0 || scope.limit < 1) return [];
    const where = new Where(this.queryVector(vector)).scope(scope);
    const rows = await this.selectNearest<{ id: string; score: number }>(name, where, scope, 'id');
    return rows.map((row) => ({ id: row.id, score: row.score }));
  }

  async supersessions(name: string, query: SupersessionQuery): Promise<SupersessionLink[]> {
    const table = assertCollectionName(name);
    if (query.collections.length === 0 || !(await this.exists(name))) return [];
    const withdrawn = await this.withdrawnTable(name);
    // Asked for every request, answered from the table as of its last write in this process (its
    // only writer, as for the BM25 statistics).
    const links = await this.keptRead(this.links, name, JSON.stringify(query), async () => {
      const where = new Where().scope(query).readableBy(query.groups);
      const result = await this.read<{
        document_id: string;
        supersedes: string[];
        effective_date: string | null;
        version_label: string | null;
        withdrawn: boolean;
      }>(
        `SELECT * FROM (
           SELECT DISTINCT ON (document_id) document_id, supersedes, effective_date, version_label, false AS withdrawn
             FROM ${table} WHERE ${where.sql()} AND cardinality(supersedes) > 0
            ORDER BY document_id, version DESC) live
         UNION ALL
         SELECT w.document_id, w.supersedes, NULL, NULL, true FROM ${withdrawn} w
          WHERE w.tenant = $1 AND w.collection = ANY($2::text[]) AND cardinality(w.supersedes) > 0
            AND NOT EXISTS (SELECT 1 FROM ${table} c WHERE c.tenant = w.tenant AND c.document_id = w.document_id)
         ORDER BY document_id`,
        where.params,
      );
      return result.rows.map((row): SupersessionLink => ({
        documentId: row.document_id,
        supersedes: row.supersedes,
        ...(row.effective_date ? { effectiveDate: row.effective_date } : {}),
        ...(row.version_label ? { versionLabel: row.version_label } : {}),
        ...(row.withdrawn ? { withdrawn: true as const } : {}),
      }));
    });
    return [...links];
  }

  /**
   * The table of withdrawn documents' supersession links beside table `name` (created on first
   * use: tables made before it lack it), quoted.
   */
  private async withdrawnTable(name: string): Promise<string> {
    const withdrawn = quoted(`${name}_withdrawn`);
    if (this.withdrawnTables.has(name)) return withdrawn;
    await this.db.exec(`
      CREATE TABLE IF NOT EXISTS ${withdrawn} (
        tenant text NOT NULL,
        collection text NOT NULL,
        document_id text NOT NULL,
        supersedes text[] NOT NULL,
        PRIMARY KEY (tenant, collection, document_id)
      )`);
    this.withdrawnTables.add(name);
    return withdrawn;
  }

  /**
   * What `read` answers for `key` on table `name`, kept in `kept` until the next write to the
   * table (forgetReads, at its start and end: see `writing`), at most MAX_CACHED_SCOPES keys a
   * table (all dropped when full).
   */
  private async keptRead<T>(
    kept: Map<string, Map<string, T>>,
    name: string,
    key: string,
    read: () => Promise<T>,
  ): Promise<T> {
    let byKey = kept.get(name);
    if (byKey === undefined) {
      byKey = new Map<string, T>();
      kept.set(name, byKey);
    }
    const cached = byKey.get(key);
    if (cached !== undefined) return cached;
    const value = await read();
    if (byKey.size >= MAX_CACHED_SCOPES) byKey.clear();
    byKey.set(key, value);
    return value;
  }

  /** Drops what was read from the table and kept (BM25 statistics, supersessions): it is being written. */
  private forgetReads(name: string): void {
    this.statistics.delete(name);
    this.links.delete(name);
  }

  async count(name: string, filter: PointFilter): Promise<number> {
    const table = assertCollectionName(name);
    if (!(await this.exists(name))) return 0;
    const where = new Where().tenant(filter.tenant);
    if (filter.ids) where.ids(filter.ids);
    if (filter.collections) where.collections(filter.collections);
    if (filter.documentId !== undefined) where.equals('document_id', filter.documentId);
    if (filter.groups) where.readableBy(filter.groups);
    const result = await this.read<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE ${where.sql()}`,
      where.params,
    );
    return result.rows[0]?.n ?? 0;
  }

  async readDocument(name: string, query: DocumentReadQuery): Promise<ChunkPayload[]> {
    const table = assertCollectionName(name);
    if (!(await this.exists(name))) return [];
    if (query.collections?.length === 0) return [];
    const where = new Where()
      .tenant(query.tenant)
      .equals('document_id', query.documentId)
      .readableBy(query.groups);
    if (query.collections) where.collections(query.collections);
    const result = await this.db.query<ChunkRow>(
      `SELECT ${CHUNK_COLUMNS} FROM ${table} WHERE ${where.sql()} ORDER BY version, chunk_index`,
      where.params,
    );
    return result.rows.map(toPayload);
  }

  async listDocumentChunks(name: string, tenant: string, documentId: string): Promise<StoredChunk[]> {
    const table = assertCollectionName(name);
    if (!(await this.exists(name))) return [];
    const result = await this.db.query<ChunkRow>(
      `SELECT id, collection, acl_groups, version, title, source_uri, chunk_index, content_hash, supersedes,
              effective_date, version_label
         FROM ${table} WHERE tenant = $1 AND document_id = $2 ORDER BY version, chunk_index`,
      [tenant, documentId],
    );
    return result.rows.map((row) => ({
      id: row.id,
      collection: row.collection,
      aclGroups: row.acl_groups,
      version: row.version,
      title: row.title,
      sourceUri: row.source_uri,
      chunkIndex: row.chunk_index,
      contentHash: row.content_hash,
      ...versionMetadataOf(row),
    }));
  }

  async deleteByFilter(name: string, filter: DocumentDeletion): Promise<void> {
    assertCollectionName(name);
    if (!(await this.exists(name))) return;
    await this.writing(name, () => this.deleteRows(name, filter));
  }

  private async deleteRows(name: string, filter: DocumentDeletion): Promise<void> {
    const table = assertCollectionName(name);
    const where = new Where().tenant(filter.tenant).equals('document_id', filter.documentId);
    if (filter.collection !== undefined) where.collections([filter.collection]);
    const keep = filter.keep
      ? ` AND NOT (version = ${where.param(filter.keep.version)} AND chunk_index < ${where.param(filter.keep.chunkCount)})`
      : '';
    let count: number;
    if (filter.keep) {
      count =
        (await this.db.query(`DELETE FROM ${table} WHERE ${where.sql()}${keep}`, where.params))
          .affectedRows ?? 0;
    } else {
      // A withdrawn document keeps its newest version's links (empty ones too, replacing older
      // ones), in the same statement: deleting 2024 of 2023 <- 2024 <- 2025 leaves 2023 retired.
      // Links it kept from an earlier withdrawal in another collection are its older ones: they go
      // (it was submitted again since, or it would not have been deleted here).
      const withdrawn = await this.withdrawnTable(name);
      const result = await this.db.query<{ n: number }>(
        `WITH gone AS (DELETE FROM ${table} WHERE ${where.sql()}
                        RETURNING tenant, collection, document_id, version, supersedes),
              links AS (INSERT INTO ${withdrawn} (tenant, collection, document_id, supersedes)
                        SELECT DISTINCT ON (tenant, collection, document_id) tenant, collection, document_id, supersedes
                          FROM gone ORDER BY tenant, collection, document_id, version DESC
                        ON CONFLICT (tenant, collection, document_id) DO UPDATE SET supersedes = EXCLUDED.supersedes),
              older AS (DELETE FROM ${withdrawn} w
                         WHERE EXISTS (SELECT 1 FROM gone g WHERE g.tenant = w.tenant AND g.document_id = w.document_id)
                           AND NOT EXISTS (SELECT 1 FROM gone g WHERE g.tenant = w.tenant
                                             AND g.document_id = w.document_id AND g.collection = w.collection))
         SELECT count(*)::int AS n FROM gone`,
        where.params,
      );
      count = result.rows[0]?.n ?? 0;
    }
    const upkeep = await this.upkeepOf(name);
    upkeep.changed += count;
    upkeep.rows = Math.max(0, upkeep.rows - count);
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }

  /** The query vector as a parameter: binary when the reads run prepared (no text to format and parse), else text. */
  private queryVector(vector: readonly number[]): string | Uint8Array {
    return this.prepared ? vectorBinary(vector) : vectorLiteral(vector);
  }

  /** Runs a read (`$n` parameters), prepared unless the store was opened with preparedStatements false. */
  private read<R>(text: string, params: readonly unknown[]): Promise<Results<R>> {
    return this.prepared ? this.prepared.query<R>(text, params) : this.db.query<R>(text, [...params]);
  }

  /**
   * BM25 (k1 1.2, b 0.75, Lucene's idf) of the query's words as SQL over the chunk alias `c`:
   * `score`, and `matches`, true for chunks holding one of the words (through the GIN index of
   * `terms`). Statistics are those of the readable scope (see scopeStatistics). Undefined when no
   * word of the query occurs there. Adds its parameters to `where`.
   */
  private async bm25(
    name: string,
    query: LexicalQuery,
    where: Where,
    alias: string,
  ): Promise<{ score: string; matches: string } | undefined> {
    const stats = await this.scopeStatistics(name, query);
    const terms = await this.queryTerms(name, query, stats);
    if (terms.length === 0) return undefined;
    const weighted = terms
      .filter((t) => t.df > 0)
      .map((t) => ({ ...t, idf: Math.log(1 + (stats.documentCount - t.df + 0.5) / (t.df + 0.5)) }));
    if (weighted.length === 0) return undefined;
    const lexemes = where.param(weighted.map((t) => t.lexeme));
    const averageLength = where.param(Math.max(stats.averageLength, 1));
    // Each matching chunk's term frequencies read from `terms` (a JSON object lookup). float8
    // arithmetic throughout (numeric, which `tf * 2.2` would be, costs several times more per row):
    // (tf * 22) / 10 is the double nearest to tf × 2.2, as the numeric product cast to float8 was.
    const score = weighted
      .map((t) => {
        const tf = `(${alias}.terms->>${where.param(t.lexeme)})::int`;
        return `coalesce(${where.param(t.idf)}::float8 * ((${tf} * 22)::float8 / 10) / (${tf} + 1.2 * (0.25 + 0.75::float8 * ${alias}.lexeme_count / ${averageLength}::float8)), 0)`;
      })
      .join(' + ');
    return { score, matches: `${alias}.terms ?| ${lexemes}::text[]` };
  }

  /**
   * Rows of the scope, and chunk count and mean length of what the requester may read in it
   * (counting hidden chunks would let scores hint at them), in one pass; document frequencies are
   * added by queryTerms. Kept per table, scope and groups until the next write to the
   * table: this process is the only writer of an in-process PGlite.
   */
  private async scopeStatistics(name: string, query: SearchQuery): Promise<LexicalStatistics> {
    const table = assertCollectionName(name);
    const key = JSON.stringify([query.tenant, [...query.collections].sort(), [...query.groups].sort()]);
    return this.keptRead(this.statistics, name, key, async () => {
      const where = new Where();
      const readable = `(cardinality(acl_groups) = 0 OR acl_groups && ${where.param([...query.groups])}::text[])`;
      where.scope(query);
      const row = await this.read<{ rows: number; n: number; avgdl: number }>(
        `SELECT count(*)::float8 AS rows, (count(*) FILTER (WHERE ${readable}))::float8 AS n,
                coalesce(avg(lexeme_count) FILTER (WHERE ${readable}), 1)::float8 AS avgdl
           FROM ${table} WHERE ${where.sql()}`,
        where.params,
      );
      return {
        scopeRows: row.rows[0]?.rows ?? 0,
        documentCount: row.rows[0]?.n ?? 0,
        averageLength: row.rows[0]?.avgdl ?? 1,
        documentFrequency: new Map<string, number>(),
      };
    });
  }

  /**
   * The distinct English lexemes of the query text (stemmed, without stop words, as the index holds
   * them; the first MAX_LEXICAL_TERMS in lexeme order), each with the number of readable chunks of
   * the scope holding it, kept in `stats` until the next write. A text seen lately costs no
   * statement for its words (to_tsvector of a text never changes), and words already counted none
   * for their counts; the new words of a query are counted together, in one pass through the GIN
   * index of `terms`.
   */
  private async queryTerms(
    name: string,
    query: LexicalQuery,
    stats: LexicalStatistics,
  ): Promise<{ lexeme: string; df: number }[]> {
    const table = assertCollectionName(name);
    const text = truncateText(query.text, MAX_LEXICAL_QUERY_CHARS);
    let lexemes = this.textLexemes.get(text);
    if (lexemes === undefined) {
      const found = await this.read<{ lexeme: string }>(
        `SELECT DISTINCT u.lexeme FROM unnest(to_tsvector('english', $1)) u ORDER BY u.lexeme`,
        [text],
      );
      lexemes = found.rows.map((row) => row.lexeme).slice(0, MAX_LEXICAL_TERMS);
      if (this.textLexemes.size >= MAX_KEPT_TEXTS) this.textLexemes.clear();
      this.textLexemes.set(text, lexemes);
    }
    const frequencies = stats.documentFrequency;
    const missing = lexemes.filter((lexeme) => !frequencies.has(lexeme));
    if (missing.length > 0) {
      const where = new Where();
      const words = where.param(missing);
      where.scope(query).readableBy(query.groups);
      // One pass through the index for every missing word (a count per word read it once each).
      const rows = await this.read<{ lexeme: string; df: number }>(
        `SELECT t.lexeme, count(*)::float8 AS df
           FROM ${table} c CROSS JOIN LATERAL unnest(${words}::text[]) t(lexeme)
          WHERE ${where.sql()} AND c.terms ?| ${words}::text[] AND c.terms ? t.lexeme
          GROUP BY t.lexeme`,
        where.params,
      );
      for (const lexeme of missing) frequencies.set(lexeme, 0);
      for (const row of rows.rows) frequencies.set(row.lexeme, row.df);
    }
    return lexemes.map((lexeme) => ({ lexeme, df: frequencies.get(lexeme) ?? 0 }));
  }

  /** `hybridSearch` as separate queries, for scopes too large to read exactly. */
  private async hybridApart(
    name: string,
    vector: readonly number[],
    query: HybridQuery,
  ): Promise<HybridLists> {
    const { text, minScore, withheld, ...lexical } = query;
    // One in-process connection: the statements run one after the other either way.
    const vectorList = await this.search(name, vector, { ...lexical, minScore });
    const lexicalList = await this.nearEnough(
      name,
      vector,
      await this.lexicalSearch(name, { ...lexical, text }),
      minScore,
    );
    if (!withheld) return { vector: vectorList, lexical: lexicalList };
    const ranked = await this.rankIds(name, vector, {
      tenant: query.tenant,
      collections: query.collections,
      limit: withheld.limit,
      minScore: withheld.minScore,
    });
    const readable =
      ranked.length === 0
        ? 0
        : await this.count(name, {
            tenant: query.tenant,
            ids: ranked.map((r) => r.id),
            groups: query.groups,
          });
    return { vector: vectorList, lexical: lexicalList, withheld: ranked.length - readable };
  }

  /** The chunks of `chunks` whose cosine similarity to `vector` is at least `minScore`, in their order. */
  private async nearEnough(
    name: string,
    vector: readonly number[],
    chunks: ScoredChunk[],
    minScore: number | undefined,
  ): Promise<ScoredChunk[]> {
    if (minScore === undefined || chunks.length === 0) return chunks;
    const where = new Where(this.queryVector(vector)).ids(chunks.map((c) => c.id));
    const result = await this.read<{ id: string }>(
      `SELECT id FROM ${assertCollectionName(name)}
        WHERE ${where.sql()} AND 1 - (embedding <=> $1::vector) >= ${where.param(minScore)}::float8`,
      where.params,
    );
    const near = new Set(result.rows.map((row) => row.id));
    return chunks.filter((c) => near.has(c.id));
  }

  private async selectNearest<R>(
    name: string,
    where: Where,
    scope: Scope,
    columns: string,
  ): Promise<(R & { score: number })[]> {
    const table = assertCollectionName(name);
    if (!(await this.exists(name))) return [];
    await this.maintainIfStale(name);
    // A scope small enough to read exactly is read exactly even when an HNSW index exists: with a
    // tenant or ACL filter the graph walk missed most of the nearest rows (recall@30 0.04 on the
    // bench's 100k chunks) for little saving. `+ 0` keeps the order and keeps the planner off the
    // index, which only serves `ORDER BY embedding <=> constant`.
    const upkeep = await this.upkeepOf(name);
    const exact =
      upkeep.hnsw &&
      (await this.scopeStatistics(name, { ...scope, groups: [] })).scopeRows <= this.exactScopeMaxRows;
    const limit = where.param(Math.floor(scope.limit));
    const result = await this.read<R & { score: number }>(
      `SELECT ${columns}, 1 - (embedding <=> $1::vector) AS score FROM ${table}
        WHERE ${where.sql()} ORDER BY ${exact ? '(embedding <=> $1::vector) + 0' : 'embedding <=> $1::vector'} LIMIT ${limit}`,
      where.params,
    );
    // minScore applies to the nearest rows, not in SQL: a distance condition there computed every
    // distance of the scope twice, and the nearest `limit` above it are the same rows either way.
    const minScore = scope.minScore;
    return minScore === undefined ? result.rows : result.rows.filter((row) => row.score >= minScore);
  }

  /**
   * Adds the full-text columns to tables created before lexical search or term frequencies existed,
   * and indexes them. The tsvector column of earlier tables goes: matching and BM25 read `terms`,
   * and its ~400 bytes a row made a 384-dimension row too wide for three to share a page.
   */
  private async ensureLexicalIndex(name: string): Promise<void> {
    const table = assertCollectionName(name);
    const lexemes = lexemesOf('title', 'section_path', 'text');
    await this.db.exec(`
      ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS lexeme_count integer;
      UPDATE ${table} SET lexeme_count = (SELECT coalesce(sum(cardinality(u.positions)), 0)::int FROM unnest(${lexemes}) u)
       WHERE lexeme_count IS NULL;
      ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS terms jsonb;
      UPDATE ${table} SET terms = ${termsOf(lexemes)} WHERE terms IS NULL;
      -- Dropping a column only marks it dropped; rows lose its bytes when next written.
      DROP INDEX IF EXISTS ${quoted(`${name}_lexemes`)};
      ALTER TABLE ${table} DROP COLUMN IF EXISTS lexemes;
      CREATE INDEX IF NOT EXISTS ${quoted(`${name}_terms`)} ON ${table} USING gin (terms);
    `);
  }

  /** Adds the supersession columns to tables created before documents could supersede others. */
  private async ensureSupersessionColumns(name: string): Promise<void> {
    const table = assertCollectionName(name);
    await this.db.exec(`
      ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS supersedes text[] NOT NULL DEFAULT '{}';
      ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS effective_date text;
      ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS version_label text;
      -- Only replacement documents carry supersedes: the per-query lookup reads this small index, not the table.
      CREATE INDEX IF NOT EXISTS ${quoted(`${name}_supersedes`)} ON ${table} (tenant, collection)
        WHERE cardinality(supersedes) > 0;
    `);
  }

  /** Keeps vectors in the row, and rows up to TOAST_TUPLE_TARGET bytes whole (tables made before this). */
  private async ensureInlineVectors(name: string): Promise<void> {
    const table = assertCollectionName(name);
    // pgvector stores vectors EXTERNAL: a row past 2 kB (a 384-dimension vector is 1.5 kB) had its
    // vector moved to the TOAST table, and every distance then read it back through an index
    // lookup. MAIN keeps it in the row unless the row cannot fit a page otherwise. Applies to rows
    // written from now on.
    await this.db.exec(`
      ALTER TABLE ${table} ALTER COLUMN embedding SET STORAGE MAIN;
      ALTER TABLE ${table} SET (toast_tuple_target = ${TOAST_TUPLE_TARGET});
    `);
  }

  /** What this process knows of a table's statistics and vector index. */
  private async upkeepOf(name: string): Promise<TableUpkeep> {
    let upkeep = this.upkeep.get(name);
    if (!upkeep) {
      const result = await this.db.query<{ rows: number; hnsw: boolean }>(
        `SELECT greatest(c.reltuples, 0)::float8 AS rows, to_regclass($2) IS NOT NULL AS hnsw
           FROM pg_class c WHERE c.oid = to_regclass($1)`,
        [quoted(name), quoted(`${name}_hnsw`)],
      );
      const row = result.rows[0];
      // Never analyzed in this process: statistics are gathered at the first query.
      upkeep = { rows: row?.rows ?? 0, changed: Number.POSITIVE_INFINITY, hnsw: row?.hnsw ?? false };
      this.upkeep.set(name, upkeep);
    }
    return upkeep;
  }

  /** Runs `maintain` when the statistics are stale or the vector index is due. */
  private async maintainIfStale(name: string): Promise<void> {
    const upkeep = await this.upkeepOf(name);
    const stale = upkeep.changed > ANALYZE_MIN_CHANGES + ANALYZE_CHANGED_SHARE * upkeep.rows;
    if (stale || (!upkeep.hnsw && upkeep.rows >= this.hnswMinRows)) await this.maintain(name);
  }

  /**
   * ANALYZE (PGlite runs no autovacuum: without statistics the planner never chooses the HNSW
   * index and misjudges every filter), then the HNSW index once the table is large enough to need
   * one. Below `hnswMinRows` the scope is read exactly, which is fast there and loses no recall.
   */
  private async maintain(name: string): Promise<void> {
    const table = assertCollectionName(name);
    const upkeep = await this.upkeepOf(name);
    await this.db.exec(`ANALYZE ${table}`);
    const counted = await this.db.query<{ rows: number }>(
      `SELECT greatest(reltuples, 0)::float8 AS rows FROM pg_class WHERE oid = to_regclass($1)`,
      [quoted(name)],
    );
    upkeep.rows = counted.rows[0]?.rows ?? 0;
    upkeep.changed = 0;
    upkeep.hnsw =
      (await this.db.query(`SELECT 1 FROM pg_class WHERE oid = to_regclass($1)`, [quoted(`${name}_hnsw`)]))
        .rows.length > 0;
    if (!upkeep.hnsw && upkeep.rows >= this.hnswMinRows) {
      // Built in memory in one pass: with too little maintenance_work_mem the build spills and
      // inserts element by element, as slow as row-by-row inserts.
      await this.db.exec(`
        SET maintenance_work_mem = '${HNSW_BUILD_MEMORY}';
        CREATE INDEX IF NOT EXISTS ${quoted(`${name}_hnsw`)} ON ${table} USING hnsw (embedding vector_cosine_ops);
        RESET maintenance_work_mem;
      `);
      upkeep.hnsw = true;
    }
  }

  private async exists(name: string): Promise<boolean> {
    if (this.dimensions.has(name)) return true;
    return (await this.existingDimension(name)) !== undefined;
  }

  private async existingDimension(name: string): Promise<number | undefined> {
    const result = await this.read<{ dim: number }>(
      `SELECT atttypmod AS dim FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'embedding'`,
      [quoted(name)],
    );
    return result.rows[0]?.dim;
  }
}

const CHUNK_COLUMNS =
  'id, tenant, collection, acl_groups, document_id, version, title, source_uri, section_path, chunk_index, ' +
  'content_hash, text, supersedes, effective_date, version_label';

/** Longest query text matched lexically; a whole pasted ticket adds nothing but cost past this. */
const MAX_LEXICAL_QUERY_CHARS = 2000;
/** Distinct query words scored; a pasted page adds cost, not precision, past this. */
const MAX_LEXICAL_TERMS = 32;
/** Query texts whose lexemes are kept (all dropped when full). */
const MAX_KEPT_TEXTS = 1000;
/** Scopes (tenant, collections, groups) whose BM25 statistics are kept per table. */
const MAX_CACHED_SCOPES = 1000;

/** Rows up to this many bytes stay whole in the heap (PostgreSQL's default moves parts past ~2 kB to TOAST). */
const TOAST_TUPLE_TARGET = 4080;
/** Rows in one upsert from which it is a bulk load: statistics and index upkeep wait for its end. */
const BULK_ROWS = 500;
/** A bulk batch of at least this share of the table's rows rebuilds the HNSW index rather than inserting into it. */
const BULK_REBUILD_SHARE = 0.1;
/**
 * Scope rows (tenant and collections, before ACLs) up to which a hybrid query reads the scope once,
 * exactly, for both lists and the withheld count, even when an HNSW index exists.
 */
const EXACT_SCOPE_MAX_ROWS = 50_000;
/** Table rows from which vector queries use an HNSW index; below, an exact scan of the scope is fast enough. */
const HNSW_MIN_ROWS = 20_000;
/** Memory for an HNSW build: enough for the graph of a few hundred thousand 384-dimension vectors. */
const HNSW_BUILD_MEMORY = '512MB';
/** ANALYZE after this many changed rows plus ANALYZE_CHANGED_SHARE of the table (autovacuum's defaults). */
const ANALYZE_MIN_CHANGES = 50;
const ANALYZE_CHANGED_SHARE = 0.1;

interface TableUpkeep {
  /** Rows in the table, as of the last statistics plus the writes since. */
  rows: number;
  /** Rows written or deleted since the statistics were gathered. */
  changed: number;
  /** Whether the HNSW index exists. */
  hnsw: boolean;
}

interface LexicalStatistics {
  /** Chunks in the scope (tenant and collections), readable or not. */
  readonly scopeRows: number;
  /** Readable chunks in the scope. */
  readonly documentCount: number;
  readonly averageLength: number;
  /** Readable chunks containing each lexeme. */
  readonly documentFrequency: Map<string, number>;
}

/**
 * A chunk's term frequencies as a JSON object (lexeme: occurrences), from its tsvector: BM25 reads a
 * frequency with one lookup, where unnesting the tsvector built a row per lexeme of every match.
 */
function termsOf(lexemes: string): string {
  return `(SELECT coalesce(jsonb_object_agg(u.lexeme, cardinality(u.positions)), '{}'::jsonb) FROM unnest(${lexemes}) u)`;
}

/** The indexed words of a chunk: title, headings and text, English stemming and stop words. */
function lexemesOf(title: string, sectionPath: string, text: string): string {
  return `to_tsvector('english', ${title} || ' ' || array_to_string(${sectionPath}::text[], ' ') || ' ' || ${text})`;
}

/** Builds a parameterised WHERE clause; `$1` is reserved for the query vector when there is one. */
class Where {
  readonly params: unknown[] = [];
  private readonly conditions: string[] = [];

  constructor(vector?: string | Uint8Array) {
    if (vector !== undefined) this.params.push(vector);
  }

  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  tenant(tenant: string): this {
    return this.equals('tenant', tenant);
  }

  equals(column: 'tenant' | 'document_id', value: string): this {
    this.conditions.push(`${column} = ${this.param(value)}`);
    return this;
  }

  scope(scope: Pick<Scope, 'tenant' | 'collections'>): this {
    return this.tenant(scope.tenant).collections(scope.collections);
  }

  collections(collections: readonly string[]): this {
    this.conditions.push(`collection = ANY(${this.param([...collections])}::text[])`);
    return this;
  }

  ids(ids: readonly string[]): this {
    this.conditions.push(`id = ANY(${this.param([...ids])}::uuid[])`);
    return this;
  }

  /** Readable by the groups: public within the tenant (no ACL groups) or sharing one. */
  readableBy(groups: readonly string[]): this {
    this.conditions.push(`(cardinality(acl_groups) = 0 OR acl_groups && ${this.param([...groups])}::text[])`);
    return this;
  }

  sql(): string {
    return this.conditions.length ? this.conditions.join(' AND ') : 'TRUE';
  }
}

function quoted(identifier: string): string {
  return `"${identifier}"`;
}

function toPayload(row: ChunkRow): ChunkPayload {
  return {
    tenant: row.tenant,
    collection: row.collection,
    aclGroups: row.acl_groups,
    documentId: row.document_id,
    version: row.version,
    title: row.title,
    sourceUri: row.source_uri,
    sectionPath: row.section_path,
    chunkIndex: row.chunk_index,
    contentHash: row.content_hash,
    text: row.text,
    ...versionMetadataOf(row),
  };
}

function versionMetadataOf(
  row: Pick<ChunkRow, 'supersedes' | 'effective_date' | 'version_label'>,
): Pick<ChunkPayload, 'supersedes' | 'effectiveDate' | 'versionLabel'> {
  return {
    ...(row.supersedes && row.supersedes.length > 0 ? { supersedes: row.supersedes } : {}),
    ...(row.effective_date ? { effectiveDate: row.effective_date } : {}),
    ...(row.version_label ? { versionLabel: row.version_label } : {}),
  };
}
