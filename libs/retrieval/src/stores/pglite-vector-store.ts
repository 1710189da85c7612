import { mkdirSync } from 'node:fs';
import { truncateText } from '@llmbus/contracts';
import { PGlite } from '@electric-sql/pglite';
import { vector as pgvector } from '@electric-sql/pglite-pgvector';
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
  SupersessionQuery,
  VectorPoint,
  VectorStore,
} from '../vector-store';
import { assertCollectionName, vectorLiteral } from './store-names';

export interface PgliteVectorStoreOptions {
  /** Directory for the database files; in memory when omitted. */
  readonly dataDir?: string;
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

  private constructor(private readonly db: PGlite) {}

  /** Opens (or creates) the store; loads pgvector. */
  static async open(options: PgliteVectorStoreOptions = {}): Promise<PgliteVectorStore> {
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    const db = await PGlite.create({ dataDir: options.dataDir, extensions: { vector: pgvector } });
    await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
    // Without iterative scans an HNSW scan stops after ef_search candidates, and a selective
    // tenant or ACL filter then returns fewer rows than asked for.
    await db.exec('SET hnsw.iterative_scan = strict_order');
    return new PgliteVectorStore(db);
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
          lexemes tsvector,
          lexeme_count integer,
          supersedes text[] NOT NULL DEFAULT '{}',
          effective_date text,
          version_label text
        );
        CREATE INDEX IF NOT EXISTS ${quoted(`${name}_doc`)} ON ${table} (tenant, document_id, version, chunk_index);
        CREATE INDEX IF NOT EXISTS ${quoted(`${name}_scope`)} ON ${table} (tenant, collection);
        CREATE INDEX IF NOT EXISTS ${quoted(`${name}_acl`)} ON ${table} USING gin (acl_groups);
        CREATE INDEX IF NOT EXISTS ${quoted(`${name}_hnsw`)} ON ${table} USING hnsw (embedding vector_cosine_ops);
      `);
    }
    await this.ensureLexicalIndex(name);
    await this.ensureSupersessionColumns(name);
    this.dimensions.set(name, dimension);
  }

  async upsert(name: string, points: readonly VectorPoint[]): Promise<void> {
    const table = assertCollectionName(name);
    if (points.length === 0) return;
    this.statistics.delete(name);
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
         section_path, chunk_index, content_hash, text, embedding, lexemes, lexeme_count, supersedes, effective_date,
         version_label)
       SELECT r.id, r.tenant, r.collection, r.acl_groups, r.document_id, r.version, r.title, r.source_uri,
              r.section_path, r.chunk_index, r.content_hash, r.text, r.embedding::vector, l.v,
              (SELECT coalesce(sum(cardinality(u.positions)), 0)::int FROM unnest(l.v) u), r.supersedes,
              r.effective_date, r.version_label
         FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, tenant text, collection text, acl_groups text[],
              document_id text, version integer, title text, source_uri text, section_path text[],
              chunk_index integer, content_hash text, text text, embedding text, supersedes text[],
              effective_date text, version_label text)
        CROSS JOIN LATERAL (SELECT ${lexemesOf('r.title', 'r.section_path', 'r.text')} AS v) l
       ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, collection = EXCLUDED.collection,
         acl_groups = EXCLUDED.acl_groups, document_id = EXCLUDED.document_id, version = EXCLUDED.version,
         title = EXCLUDED.title, source_uri = EXCLUDED.source_uri, section_path = EXCLUDED.section_path,
         chunk_index = EXCLUDED.chunk_index, content_hash = EXCLUDED.content_hash, text = EXCLUDED.text,
         embedding = EXCLUDED.embedding, lexemes = EXCLUDED.lexemes, lexeme_count = EXCLUDED.lexeme_count,
         supersedes = EXCLUDED.supersedes, effective_date = EXCLUDED.effective_date,
         version_label = EXCLUDED.version_label`,
      // Lone surrogates become U+FFFD, as the UTF-8 encoding of a text parameter would make them.
      [
        JSON.stringify(rows, (_key, value: unknown) =>
          typeof value === 'string' ? value.toWellFormed() : value,
        ),
      ],
    );
  }

  async search(name: string, vector: readonly number[], query: SearchQuery): Promise<ScoredChunk[]> {
    if (query.collections.length === 0 || query.limit < 1) return [];
    const where = new Where(vectorLiteral(vector));
    where.scope(query).readableBy(query.groups);
    const rows = await this.selectNearest<ChunkRow & { score: number }>(name, where, query, CHUNK_COLUMNS);
    return rows.map((row) => ({ id: row.id, score: row.score, payload: toPayload(row) }));
  }

  async lexicalSearch(name: string, query: LexicalQuery): Promise<ScoredChunk[]> {
    const table = assertCollectionName(name);
    if (query.collections.length === 0 || query.limit < 1 || query.text.trim() === '') return [];
    if (!(await this.exists(name))) return [];
    const terms = await this.queryLexemes(truncateText(query.text, MAX_LEXICAL_QUERY_CHARS));
    if (terms.length === 0) return [];
    const stats = await this.lexicalStatistics(name, query, terms);
    // BM25 (k1 1.2, b 0.75) with Lucene's idf; statistics of the readable scope only (see lexicalStatistics).
    const weighted = terms
      .map((lexeme) => ({ lexeme, df: stats.documentFrequency.get(lexeme) ?? 0 }))
      .filter((t) => t.df > 0)
      .map((t) => ({ ...t, idf: Math.log(1 + (stats.documentCount - t.df + 0.5) / (t.df + 0.5)) }));
    if (weighted.length === 0) return [];
    const where = new Where();
    const lexemes = where.param(weighted.map((t) => t.lexeme));
    const idfs = where.param(weighted.map((t) => t.idf));
    const averageLength = where.param(Math.max(stats.averageLength, 1));
    where.scope(query).readableBy(query.groups);
    const limit = where.param(Math.floor(query.limit));
    const candidates = where.param(Math.max(LEXICAL_CANDIDATES, Math.floor(query.limit)));
    const result = await this.db.query<ChunkRow & { score: number }>(
      `WITH q AS (
         SELECT * FROM unnest(${lexemes}::text[], ${idfs}::float8[]) AS q(lexeme, idf)
       ), any_term AS (
         SELECT string_agg(quote_literal(x), ' | ')::tsquery AS q FROM unnest(${lexemes}::text[]) x
       ), matched AS (
         -- Only the best ts_rank matches are scored: bounded work however many chunks match.
         SELECT c.id, c.lexemes, c.lexeme_count FROM ${table} c, any_term a WHERE ${where.sql()} AND c.lexemes @@ a.q
          ORDER BY ts_rank(c.lexemes, a.q) DESC LIMIT ${candidates}
       ), scored AS (
         SELECT m.id, sum(
                  q.idf * (cardinality(u.positions) * 2.2)
                  / (cardinality(u.positions) + 1.2 * (0.25 + 0.75 * m.lexeme_count / ${averageLength}::float8))
                ) AS score
           FROM matched m CROSS JOIN LATERAL unnest(m.lexemes) u JOIN q ON q.lexeme = u.lexeme
          GROUP BY m.id
       )
       SELECT ${CHUNK_COLUMNS.split(', ')
         .map((column) => `c.${column}`)
         .join(', ')}, s.score
         FROM scored s JOIN ${table} c ON c.id = s.id
        ORDER BY s.score DESC, c.id LIMIT ${limit}`,
      where.params,
    );
    return result.rows.map((row) => ({ id: row.id, score: row.score, payload: toPayload(row) }));
  }

  async hybridSearch(name: string, vector: readonly number[], query: HybridQuery): Promise<HybridLists> {
    const { text, minScore, ...lexical } = query;
    // One in-process connection: the two statements run one after the other either way.
    const vectorList = await this.search(name, vector, { ...lexical, minScore });
    return { vector: vectorList, lexical: await this.lexicalSearch(name, { ...lexical, text }) };
  }

  async rankIds(name: string, vector: readonly number[], scope: Scope): Promise<RankedId[]> {
    if (scope.collections.length === 0 || scope.limit < 1) return [];
    const where = new Where(vectorLiteral(vector)).scope(scope);
    const rows = await this.selectNearest<{ id: string; score: number }>(name, where, scope, 'id');
    return rows.map((row) => ({ id: row.id, score: row.score }));
  }

  async supersededDocuments(name: string, query: SupersessionQuery): Promise<string[]> {
    const table = assertCollectionName(name);
    if (query.collections.length === 0 || !(await this.exists(name))) return [];
    const where = new Where().scope(query).readableBy(query.groups);
    const asOf = where.param(query.asOf);
    const result = await this.db.query<{ id: string }>(
      `SELECT DISTINCT unnest(supersedes) AS id FROM ${table}
        WHERE ${where.sql()} AND cardinality(supersedes) > 0
          AND (effective_date IS NULL OR effective_date <= ${asOf})
        ORDER BY id`,
      where.params,
    );
    return result.rows.map((row) => row.id);
  }

  async count(name: string, filter: PointFilter): Promise<number> {
    const table = assertCollectionName(name);
    if (!(await this.exists(name))) return 0;
    const where = new Where().tenant(filter.tenant);
    if (filter.ids) where.ids(filter.ids);
    if (filter.collections) where.collections(filter.collections);
    if (filter.documentId !== undefined) where.equals('document_id', filter.documentId);
    if (filter.groups) where.readableBy(filter.groups);
    const result = await this.db.query<{ n: number }>(
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
    const table = assertCollectionName(name);
    if (!(await this.exists(name))) return;
    const where = new Where().tenant(filter.tenant).equals('document_id', filter.documentId);
    if (filter.collection !== undefined) where.collections([filter.collection]);
    this.statistics.delete(name);
    const keep = filter.keep
      ? ` AND NOT (version = ${where.param(filter.keep.version)} AND chunk_index < ${where.param(filter.keep.chunkCount)})`
      : '';
    await this.db.query(`DELETE FROM ${table} WHERE ${where.sql()}${keep}`, where.params);
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }

  /** The distinct English lexemes of a query text (stemmed, without stop words), as the index holds them. */
  private async queryLexemes(text: string): Promise<string[]> {
    const result = await this.db.query<{ lexeme: string }>(
      `SELECT DISTINCT u.lexeme FROM unnest(to_tsvector('english', $1)) u ORDER BY u.lexeme`,
      [text],
    );
    return result.rows.map((row) => row.lexeme).slice(0, MAX_LEXICAL_TERMS);
  }

  /**
   * Chunk count, mean length and per-term document frequencies of what the requester may read in
   * the scope (counting hidden chunks would let scores hint at them). Each is a scan of the scope, so
   * they are kept per table, scope and groups until the next write to the table: this process is the
   * only writer of an in-process PGlite.
   */
  private async lexicalStatistics(name: string, query: LexicalQuery, terms: readonly string[]) {
    const table = assertCollectionName(name);
    const byScope = this.statistics.get(name) ?? new Map<string, LexicalStatistics>();
    this.statistics.set(name, byScope);
    const key = JSON.stringify([query.tenant, [...query.collections].sort(), [...query.groups].sort()]);
    let stats = byScope.get(key);
    if (!stats) {
      const where = new Where().scope(query).readableBy(query.groups);
      const row = await this.db.query<{ n: number; avgdl: number }>(
        `SELECT count(*)::float8 AS n, coalesce(avg(lexeme_count), 1)::float8 AS avgdl FROM ${table} WHERE ${where.sql()}`,
        where.params,
      );
      if (byScope.size >= MAX_CACHED_SCOPES) byScope.clear();
      stats = {
        documentCount: row.rows[0]?.n ?? 0,
        averageLength: row.rows[0]?.avgdl ?? 1,
        documentFrequency: new Map(),
      };
      byScope.set(key, stats);
    }
    const missing = terms.filter((t) => !stats.documentFrequency.has(t));
    if (missing.length > 0) {
      const where = new Where();
      const lexemes = where.param(missing);
      where.scope(query).readableBy(query.groups);
      const rows = await this.db.query<{ lexeme: string; df: number }>(
        `SELECT t.lexeme, (SELECT count(*) FROM ${table} WHERE ${where.sql()} AND lexemes @@ quote_literal(t.lexeme)::tsquery)::float8 AS df
           FROM unnest(${lexemes}::text[]) t(lexeme)`,
        where.params,
      );
      for (const row of rows.rows) stats.documentFrequency.set(row.lexeme, row.df);
    }
    return stats;
  }

  private async selectNearest<R>(name: string, where: Where, scope: Scope, columns: string): Promise<R[]> {
    const table = assertCollectionName(name);
    if (!(await this.exists(name))) return [];
    if (scope.minScore !== undefined) where.maxDistance(1 - scope.minScore);
    const limit = where.param(Math.floor(scope.limit));
    const result = await this.db.query<R>(
      `SELECT ${columns}, 1 - (embedding <=> $1::vector) AS score FROM ${table}
        WHERE ${where.sql()} ORDER BY embedding <=> $1::vector LIMIT ${limit}`,
      where.params,
    );
    return result.rows;
  }

  /** Adds the full-text columns to tables created before lexical search existed, and indexes them. */
  private async ensureLexicalIndex(name: string): Promise<void> {
    const table = assertCollectionName(name);
    await this.db.exec(`
      ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS lexemes tsvector;
      ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS lexeme_count integer;
      UPDATE ${table} SET lexemes = ${lexemesOf('title', 'section_path', 'text')} WHERE lexemes IS NULL;
      UPDATE ${table} SET lexeme_count = (SELECT coalesce(sum(cardinality(u.positions)), 0)::int FROM unnest(lexemes) u)
       WHERE lexeme_count IS NULL;
      CREATE INDEX IF NOT EXISTS ${quoted(`${name}_lexemes`)} ON ${table} USING gin (lexemes);
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

  private async exists(name: string): Promise<boolean> {
    if (this.dimensions.has(name)) return true;
    return (await this.existingDimension(name)) !== undefined;
  }

  private async existingDimension(name: string): Promise<number | undefined> {
    const result = await this.db.query<{ dim: number }>(
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
/** Matches (by ts_rank) that BM25 scores per query. */
const LEXICAL_CANDIDATES = 300;
/** Distinct query words scored; a pasted page adds cost, not precision, past this. */
const MAX_LEXICAL_TERMS = 32;
/** Scopes (tenant, collections, groups) whose BM25 statistics are kept per table. */
const MAX_CACHED_SCOPES = 1000;

interface LexicalStatistics {
  readonly documentCount: number;
  readonly averageLength: number;
  /** Readable chunks containing each lexeme. */
  readonly documentFrequency: Map<string, number>;
}

/** The indexed words of a chunk: title, headings and text, English stemming and stop words. */
function lexemesOf(title: string, sectionPath: string, text: string): string {
  return `to_tsvector('english', ${title} || ' ' || array_to_string(${sectionPath}::text[], ' ') || ' ' || ${text})`;
}

/** Builds a parameterised WHERE clause; `$1` is reserved for the query vector when there is one. */
class Where {
  readonly params: unknown[] = [];
  private readonly conditions: string[] = [];

  constructor(vector?: string) {
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

  maxDistance(distance: number): this {
    this.conditions.push(`(embedding <=> $1::vector) <= ${this.param(distance)}`);
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
