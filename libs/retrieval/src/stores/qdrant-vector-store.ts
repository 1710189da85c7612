import type {
  QdrantClient as QdrantClientType,
  QdrantClientParams,
  Schemas,
} from '@qdrant/js-client-rest' with { 'resolution-mode': 'import' };
import { backOff } from 'exponential-backoff';
import { RetrievalError } from '../errors';
import type {
  ChunkPayload,
  DocumentDeletion,
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
import { bm25Score, lexicalTerms } from '../ranking/bm25';
import {
  deletionFilter,
  documentFilter,
  pointFilter,
  QDRANT_PAYLOAD_INDEXES,
  scopeFilter,
} from './qdrant-filters';
import { describeQdrantError, isTransientQdrantError, qdrantStatus } from './qdrant-errors';
import { assertCollectionName } from './store-names';

// The package's type declarations are ESM-only while it also ships a CommonJS build: load that build
// (as Node and jest do for a `require`) and type it with the ESM declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { QdrantClient } = require('@qdrant/js-client-rest') as {
  QdrantClient: new (params: QdrantClientParams) => QdrantClientType;
};

/** The part of the Qdrant client the store uses; tests may pass a double. */
export type QdrantApi = Pick<
  QdrantClientType,
  | 'collectionExists'
  | 'getCollection'
  | 'createCollection'
  | 'deleteCollection'
  | 'createPayloadIndex'
  | 'upsert'
  | 'query'
  | 'count'
  | 'scroll'
  | 'delete'
>;

export interface QdrantVectorStoreOptions {
  readonly url: string;
  readonly apiKey?: string;
  /** Per-request timeout in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
  /** Attempts per operation on transient faults (5xx, 429, timeouts, refused connections). Default 5. */
  readonly attempts?: number;
  /** First backoff delay in milliseconds; doubles per attempt, full jitter, capped at 5 s. Default 200. */
  readonly retryDelayMs?: number;
  /** Points per upsert request. Default 256. */
  readonly upsertBatchSize?: number;
  readonly client?: QdrantApi;
}

const SCROLL_PAGE = 512;
/** Points read per lexical query before BM25 ranks them. */
const LEXICAL_CANDIDATES = 256;
const MAX_LEXICAL_TERMS = 16;
const PAYLOAD_FIELDS_FOR_LISTING = [
  'collection',
  'aclGroups',
  'version',
  'title',
  'sourceUri',
  'chunkIndex',
  'contentHash',
  'supersedes',
  'effectiveDate',
  'versionLabel',
];

/**
 * Qdrant adapter: one Qdrant collection per store collection (embedding model + dimension), cosine
 * distance, keyword/integer payload indexes on the filtered fields, tenant and ACL conditions in
 * the query filter, writes with `wait: true`, transient faults retried with exponential backoff.
 */
export class QdrantVectorStore implements VectorStore {
  readonly kind = 'qdrant';
  private readonly client: QdrantApi;
  private readonly ready = new Map<string, number>();
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly upsertBatchSize: number;

  constructor(options: QdrantVectorStoreOptions) {
    this.client =
      options.client ??
      new QdrantClient({
        url: options.url,
        apiKey: options.apiKey,
        timeout: options.timeoutMs ?? 10_000,
        checkCompatibility: false,
      });
    this.attempts = options.attempts ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.upsertBatchSize = options.upsertBatchSize ?? 256;
  }

  async ensureCollection(name: string, dimension: number): Promise<void> {
    assertCollectionName(name);
    if (this.ready.get(name) === dimension) return;
    const { exists } = await this.call('check collection', () => this.client.collectionExists(name));
    if (!exists) {
      try {
        await this.call('create collection', () =>
          this.client.createCollection(name, { vectors: { size: dimension, distance: 'Cosine' } }),
        );
      } catch (error) {
        // Another replica may have created it first; the dimension check below settles it.
        if (!(error instanceof RetrievalError) || !/already exists/i.test(error.message)) throw error;
      }
    }
    const info = await this.call('read collection', () => this.client.getCollection(name));
    const existing = vectorSize(info.config.params.vectors);
    if (existing !== dimension) {
      throw new RetrievalError(
        'dimension_mismatch',
        `Qdrant collection ${name} holds ${existing ?? 'named or unknown'}-dimensional vectors, not ${dimension}; use a collection per embedding model and dimension`,
      );
    }
    const indexed = new Set(Object.keys(info.payload_schema ?? {}));
    for (const index of QDRANT_PAYLOAD_INDEXES) {
      if (indexed.has(index.field)) continue;
      await this.call(`index ${index.field}`, () =>
        this.client.createPayloadIndex(name, {
          field_name: index.field,
          field_schema: index.schema,
          wait: true,
        }),
      );
    }
    this.ready.set(name, dimension);
  }

  async upsert(name: string, points: readonly VectorPoint[]): Promise<void> {
    assertCollectionName(name);
    for (let start = 0; start < points.length; start += this.upsertBatchSize) {
      const batch = points.slice(start, start + this.upsertBatchSize).map((p) => ({
        id: p.id,
        vector: [...p.vector],
        payload: {
          ...p.payload,
          aclGroups: [...p.payload.aclGroups],
          sectionPath: [...p.payload.sectionPath],
          ...(p.payload.supersedes ? { supersedes: [...p.payload.supersedes] } : {}),
        },
      }));
      await this.call('upsert', () => this.client.upsert(name, { wait: true, points: batch }));
    }
  }

  async search(name: string, vector: readonly number[], query: SearchQuery): Promise<ScoredChunk[]> {
    if (query.collections.length === 0 || query.limit < 1) return [];
    const points = await this.nearest(name, vector, query, scopeFilter(query, query.groups), true);
    return points.map((p) => ({ id: String(p.id), score: p.score, payload: toPayload(p.payload) }));
  }

  /**
   * Qdrant's full-text index selects the readable points containing any query word (tenant and ACL in
   * the same filter); BM25 ranks them here, with exact counts of readable points per word as document
   * frequencies. Average length is that of the matched points, an approximation PGlite does not need.
   */
  async lexicalSearch(name: string, query: LexicalQuery): Promise<ScoredChunk[]> {
    assertCollectionName(name);
    const terms = [...new Set(lexicalTerms(query.text, { fold: false }))].slice(0, MAX_LEXICAL_TERMS);
    if (query.collections.length === 0 || query.limit < 1 || terms.length === 0) return [];
    const readable = scopeFilter(query, query.groups);
    const page = await this.readOrEmpty('lexical scroll', () =>
      this.client.scroll(name, {
        filter: { must: readable.must, should: terms.map((t) => ({ key: 'text', match: { text: t } })) },
        limit: Math.max(LEXICAL_CANDIDATES, Math.floor(query.limit)),
        with_payload: true,
        with_vector: false,
      }),
    );
    if (!page || page.points.length === 0) return [];
    const documentCount = await this.count(name, {
      tenant: query.tenant,
      collections: query.collections,
      groups: query.groups,
    });
    const documentFrequency = new Map<string, number>();
    for (const term of terms) {
      const result = await this.call('count term', () =>
        this.client.count(name, {
          filter: { must: [...toArray(readable.must), { key: 'text', match: { text: term } }] },
          exact: true,
        }),
      );
      documentFrequency.set(term, result.count);
    }
    const candidates = page.points.map((p) => {
      const payload = toPayload(p.payload);
      return {
        id: String(p.id),
        payload,
        terms: lexicalTerms(`${payload.title} ${payload.sectionPath.join(' ')} ${payload.text}`, {
          fold: false,
        }),
      };
    });
    const averageLength = candidates.reduce((n, c) => n + c.terms.length, 0) / candidates.length;
    return candidates
      .map((c) => ({
        id: c.id,
        payload: c.payload,
        score: bm25Score(terms, c.terms, { documentCount, averageLength, documentFrequency }),
      }))
      .filter((c) => c.score > 0)
      .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
      .slice(0, Math.floor(query.limit));
  }

  async rankIds(name: string, vector: readonly number[], scope: Scope): Promise<RankedId[]> {
    if (scope.collections.length === 0 || scope.limit < 1) return [];
    const points = await this.nearest(name, vector, scope, scopeFilter(scope), false);
    return points.map((p) => ({ id: String(p.id), score: p.score }));
  }

  /** Scrolls the readable points that supersede something (few: only replacement documents carry the field). */
  async supersededDocuments(name: string, query: SupersessionQuery): Promise<string[]> {
    assertCollectionName(name);
    if (query.collections.length === 0) return [];
    const readable = scopeFilter(query, query.groups);
    const superseded = new Set<string>();
    let offset: Schemas['ExtendedPointId'] | undefined;
    do {
      const page = await this.readOrEmpty('supersession scroll', () =>
        this.client.scroll(name, {
          filter: { must: readable.must, must_not: [{ is_empty: { key: 'supersedes' } }] },
          limit: SCROLL_PAGE,
          offset,
          with_payload: { include: ['supersedes', 'effectiveDate'] },
          with_vector: false,
        }),
      );
      if (!page) return [];
      for (const point of page.points) {
        const p = toPayload(point.payload);
        if (p.effectiveDate !== undefined && p.effectiveDate > query.asOf) continue;
        for (const id of p.supersedes ?? []) superseded.add(id);
      }
      offset = nextOffset(page.next_page_offset);
    } while (offset !== undefined);
    return [...superseded].sort();
  }

  async count(name: string, filter: PointFilter): Promise<number> {
    assertCollectionName(name);
    if (filter.ids?.length === 0 || filter.collections?.length === 0) return 0;
    const result = await this.readOrEmpty('count', () =>
      this.client.count(name, { filter: pointFilter(filter), exact: true }),
    );
    return result?.count ?? 0;
  }

  async listDocumentChunks(name: string, tenant: string, documentId: string): Promise<StoredChunk[]> {
    assertCollectionName(name);
    const chunks: StoredChunk[] = [];
    let offset: Schemas['ExtendedPointId'] | undefined;
    do {
      const page = await this.readOrEmpty('scroll', () =>
        this.client.scroll(name, {
          filter: documentFilter(tenant, documentId),
          limit: SCROLL_PAGE,
          offset,
          with_payload: { include: PAYLOAD_FIELDS_FOR_LISTING },
          with_vector: false,
        }),
      );
      if (!page) return [];
      for (const point of page.points) {
        const p = toPayload(point.payload);
        chunks.push({
          id: String(point.id),
          collection: p.collection,
          aclGroups: p.aclGroups,
          version: p.version,
          title: p.title,
          sourceUri: p.sourceUri,
          chunkIndex: p.chunkIndex,
          contentHash: p.contentHash,
          ...(p.supersedes ? { supersedes: p.supersedes } : {}),
          ...(p.effectiveDate ? { effectiveDate: p.effectiveDate } : {}),
          ...(p.versionLabel ? { versionLabel: p.versionLabel } : {}),
        });
      }
      offset = nextOffset(page.next_page_offset);
    } while (offset !== undefined);
    return chunks.sort((a, b) => a.version - b.version || a.chunkIndex - b.chunkIndex);
  }

  async deleteByFilter(name: string, filter: DocumentDeletion): Promise<void> {
    assertCollectionName(name);
    await this.readOrEmpty('delete', () =>
      this.client.delete(name, { wait: true, filter: deletionFilter(filter) }),
    );
  }

  /** Drops a whole store collection (tests, or retiring an embedding model). Not part of the port. */
  async dropCollection(name: string): Promise<void> {
    assertCollectionName(name);
    await this.call('drop collection', () => this.client.deleteCollection(name));
    this.ready.delete(name);
  }

  async close(): Promise<void> {
    // The REST client keeps no state worth closing; its keep-alive sockets close when idle.
  }

  private async nearest(
    name: string,
    vector: readonly number[],
    scope: Scope,
    filter: Schemas['Filter'],
    withPayload: boolean,
  ) {
    assertCollectionName(name);
    const result = await this.readOrEmpty('query', () =>
      this.client.query(name, {
        query: [...vector],
        filter,
        limit: Math.floor(scope.limit),
        score_threshold: scope.minScore,
        with_payload: withPayload,
        with_vector: false,
      }),
    );
    return result?.points ?? [];
  }

  /** Runs a read; a missing collection means nothing is stored yet. */
  private async readOrEmpty<T>(what: string, operation: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(what, operation);
    } catch (error) {
      if (error instanceof RetrievalError && error.cause !== undefined && qdrantStatus(error.cause) === 404)
        return undefined;
      throw error;
    }
  }

  private async call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await backOff(operation, {
        numOfAttempts: this.attempts,
        startingDelay: this.retryDelayMs,
        timeMultiple: 2,
        maxDelay: 5_000,
        jitter: 'full',
        retry: (error: unknown) => isTransientQdrantError(error),
      });
    } catch (error) {
      const transient = isTransientQdrantError(error);
      throw new RetrievalError(
        transient ? 'store_unavailable' : 'store_rejected',
        `Qdrant ${what} failed${transient ? ` after ${this.attempts} attempts` : ''}: ${describeQdrantError(error)}`,
        { cause: error },
      );
    }
  }
}

function toArray<T>(value: T | T[] | null | undefined): T[] {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function vectorSize(vectors: Schemas['VectorsConfig'] | undefined): number | undefined {
  if (vectors && typeof vectors === 'object' && 'size' in vectors && typeof vectors.size === 'number')
    return vectors.size;
  return undefined;
}

function nextOffset(
  offset: Schemas['ExtendedPointId'] | null | undefined | Record<string, unknown>,
): Schemas['ExtendedPointId'] | undefined {
  return typeof offset === 'string' || typeof offset === 'number' ? offset : undefined;
}

/** Payloads come back as untyped JSON; fields this store wrote are read with their types checked. */
function toPayload(raw: Record<string, unknown> | null | undefined): ChunkPayload {
  const p = raw ?? {};
  const str = (key: string) => (typeof p[key] === 'string' ? (p[key] as string) : '');
  const num = (key: string) => (typeof p[key] === 'number' ? (p[key] as number) : 0);
  const list = (key: string) =>
    Array.isArray(p[key]) ? (p[key] as unknown[]).filter((v): v is string => typeof v === 'string') : [];
  return {
    tenant: str('tenant'),
    collection: str('collection'),
    aclGroups: list('aclGroups'),
    documentId: str('documentId'),
    version: num('version'),
    title: str('title'),
    sourceUri: str('sourceUri'),
    sectionPath: list('sectionPath'),
    chunkIndex: num('chunkIndex'),
    contentHash: str('contentHash'),
    text: str('text'),
    ...(list('supersedes').length > 0 ? { supersedes: list('supersedes') } : {}),
    ...(str('effectiveDate') ? { effectiveDate: str('effectiveDate') } : {}),
    ...(str('versionLabel') ? { versionLabel: str('versionLabel') } : {}),
  };
}
