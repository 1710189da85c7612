import type {
  QdrantClient as QdrantClientType,
  QdrantClientParams,
  Schemas,
} from '@qdrant/js-client-rest' with { 'resolution-mode': 'import' };
import { createHash } from 'node:crypto';
import { backOff } from 'exponential-backoff';
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
import {
  deletionFilter,
  documentFilter,
  pointFilter,
  QDRANT_PAYLOAD_INDEXES,
  scopeFilter,
} from './qdrant-filters';
import { describeQdrantError, isTransientQdrantError, qdrantStatus } from './qdrant-errors';
import { assertCollectionName } from './store-names';

/**
 * The Qdrant client class. The package's type declarations are ESM-only while it also ships a
 * CommonJS build: load that build (as Node and jest do for a `require`) and type it with the ESM
 * declarations. Loaded when a store is made, so a process on PGlite skips its load time.
 */
function qdrantClientClass(): new (params: QdrantClientParams) => QdrantClientType {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const qdrant = require('@qdrant/js-client-rest') as {
    QdrantClient: new (params: QdrantClientParams) => QdrantClientType;
  };
  return qdrant.QdrantClient;
}

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
  | 'queryBatch'
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
/** The named dense vector of a point (cosine). */
export const DENSE_VECTOR = 'dense';
/** The named sparse vector of a point: BM25 term weights of its title, headings and text. */
export const LEXICAL_VECTOR = 'lexical';
/**
 * Qdrant's server-side BM25 (`Bm25Config` in the 1.19 API the client is generated from): the
 * server tokenises, drops English stop words, stems with Snowball and weights terms with BM25's saturation (k 1.2, b 0.75); the sparse vector's
 * IDF modifier adds inverse document frequency at query time. `avg_len` is the expected chunk length
 * in terms (chunks of 200 model tokens hold about 100 words besides stop words).
 */
const BM25_MODEL = 'qdrant/bm25';
const BM25_OPTIONS = { language: 'english', avg_len: 100 } as const;
/** Longest query text sent for BM25; a whole pasted ticket adds nothing but cost past this (as PGlite). */
const MAX_LEXICAL_QUERY_CHARS = 2000;
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
 * Qdrant adapter: one Qdrant collection per store collection (embedding model + dimension), a named
 * dense vector (cosine) and a named sparse BM25 vector with the IDF modifier per point,
 * keyword/integer payload indexes on the filtered fields, tenant and ACL conditions in the query
 * filter, writes with `wait: true`, transient faults retried with exponential backoff.
 *
 * Unlike PGlite, BM25's document frequencies are Qdrant's, over the whole store collection (every
 * tenant and ACL), not only what the requester may read: ranking among readable chunks can shift
 * with hidden ones, though no hidden chunk is ever returned or counted.
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
      new (qdrantClientClass())({
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
          this.client.createCollection(name, {
            vectors: { [DENSE_VECTOR]: { size: dimension, distance: 'Cosine' } },
            sparse_vectors: { [LEXICAL_VECTOR]: { modifier: 'idf' } },
          }),
        );
      } catch (error) {
        // Another replica may have created it first; the dimension check below settles it.
        if (!(error instanceof RetrievalError) || !/already exists/i.test(error.message)) throw error;
      }
    }
    const info = await this.call('read collection', () => this.client.getCollection(name));
    if (!info.config.params.sparse_vectors?.[LEXICAL_VECTOR]) {
      throw new RetrievalError(
        'store_rejected',
        `Qdrant collection ${name} has no sparse vector "${LEXICAL_VECTOR}" (it was created before hybrid search); delete it and ingest the documents again`,
      );
    }
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
        vector: {
          [DENSE_VECTOR]: [...p.vector],
          [LEXICAL_VECTOR]: { text: lexicalText(p.payload), model: BM25_MODEL, options: BM25_OPTIONS },
        },
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
    const points = await this.nearest(name, vector, query, scopeFilter(query, query.groups), true);
    return toScoredChunks(points);
  }

  /** BM25 on the server: the sparse vector with the IDF modifier, tenant and ACL in the same filter. */
  async lexicalSearch(name: string, query: LexicalQuery): Promise<ScoredChunk[]> {
    assertCollectionName(name);
    const request = lexicalRequest(query);
    if (!request) return [];
    const result = await this.readOrEmpty('lexical query', () => this.client.query(name, request));
    return toScoredChunks(result?.points ?? []);
  }

  /** The dense and the sparse query in one batch request. */
  async hybridSearch(name: string, vector: readonly number[], query: HybridQuery): Promise<HybridLists> {
    assertCollectionName(name);
    const dense = denseRequest(vector, query, scopeFilter(query, query.groups), true);
    const lexical = lexicalRequest(query);
    const counted = query.withheld ? { withheld: 0 } : {};
    if (!dense) return { vector: [], lexical: [], ...counted };
    // The ranking for the withheld count (ids only, ACLs ignored) goes in the same batch.
    const ranking = query.withheld
      ? denseRequest(vector, { ...query, ...query.withheld }, scopeFilter(query), false)
      : undefined;
    // Which of the BM25 list are at least minScore similar to the vector: the same sparse query
    // as a prefetch, rescored by the dense vector with the threshold (ids only).
    const near =
      lexical && query.minScore !== undefined
        ? {
            prefetch: {
              query: lexical.query,
              using: lexical.using,
              filter: lexical.filter,
              limit: lexical.limit,
            },
            query: [...vector],
            using: DENSE_VECTOR,
            limit: lexical.limit,
            score_threshold: query.minScore,
            with_payload: false,
            with_vector: false,
          }
        : undefined;
    const searches = [
      dense,
      ...(lexical ? [lexical] : []),
      ...(ranking ? [ranking] : []),
      ...(near ? [near] : []),
    ];
    const results = await this.readOrEmpty('hybrid query', () => this.client.queryBatch(name, { searches }));
    const nearIds = near
      ? new Set((results?.[searches.indexOf(near)]?.points ?? []).map((p) => String(p.id)))
      : undefined;
    const lists = {
      vector: toScoredChunks(results?.[0]?.points ?? []),
      lexical: lexical
        ? toScoredChunks(results?.[1]?.points ?? []).filter((c) => nearIds === undefined || nearIds.has(c.id))
        : [],
    };
    if (!query.withheld) return lists;
    const ranked = ranking ? (results?.[searches.indexOf(ranking)]?.points ?? []) : [];
    const readable = await this.count(name, {
      tenant: query.tenant,
      ids: ranked.map((p) => String(p.id)),
      groups: query.groups,
    });
    return { ...lists, withheld: ranked.length - readable };
  }

  async rankIds(name: string, vector: readonly number[], scope: Scope): Promise<RankedId[]> {
    const points = await this.nearest(name, vector, scope, scopeFilter(scope), false);
    return points.map((p) => ({ id: String(p.id), score: p.score }));
  }

  /**
   * Scrolls the readable points that supersede something (few: only replacement documents carry
   * the field), then the withdrawn documents' links of the scope, leaving out ids stored again.
   */
  async supersessions(name: string, query: SupersessionQuery): Promise<SupersessionLink[]> {
    assertCollectionName(name);
    if (query.collections.length === 0) return [];
    const readable = scopeFilter(query, query.groups);
    const newest = new Map<string, { version: number; link: SupersessionLink }>();
    const live = await this.scrollAll(name, 'supersession scroll', {
      filter: { must: readable.must, must_not: [{ is_empty: { key: 'supersedes' } }] },
      with_payload: { include: ['documentId', 'version', 'supersedes', 'effectiveDate', 'versionLabel'] },
    });
    for (const point of live) {
      const p = toPayload(point.payload);
      const had = newest.get(p.documentId);
      if (had && had.version >= p.version) continue;
      const link: SupersessionLink = {
        documentId: p.documentId,
        supersedes: p.supersedes ?? [],
        ...(p.effectiveDate ? { effectiveDate: p.effectiveDate } : {}),
        ...(p.versionLabel ? { versionLabel: p.versionLabel } : {}),
      };
      newest.set(p.documentId, { version: p.version, link });
    }
    const links = [...newest.values()].map((n) => n.link);
    const withdrawn = (
      await this.scrollAll(name, 'withdrawn links scroll', {
        filter: {
          must: [
            { key: `${WITHDRAWN}.tenant`, match: { value: query.tenant } },
            { key: `${WITHDRAWN}.collection`, match: { any: [...query.collections] } },
          ],
          must_not: [{ is_empty: { key: 'supersedes' } }],
        },
        with_payload: true,
      })
    ).flatMap((point) => withdrawnLinkOf(point.payload));
    if (withdrawn.length > 0) {
      const storedAgain = new Set(
        (
          await this.scrollAll(name, 'withdrawn ids scroll', {
            filter: {
              must: [
                { key: 'tenant', match: { value: query.tenant } },
                { key: 'documentId', match: { any: withdrawn.map((w) => w.documentId) } },
              ],
            },
            with_payload: { include: ['documentId'] },
          })
        ).map((point) => String(point.payload?.['documentId'])),
      );
      links.push(...withdrawn.filter((w) => !storedAgain.has(w.documentId)));
    }
    return links.sort((a, b) => (a.documentId < b.documentId ? -1 : a.documentId > b.documentId ? 1 : 0));
  }

  /** Every point of a scroll request, page by page; none when the collection does not exist. */
  private async scrollAll(
    name: string,
    what: string,
    request: Omit<Schemas['ScrollRequest'], 'limit' | 'offset' | 'with_vector'>,
  ): Promise<Schemas['Record'][]> {
    const points: Schemas['Record'][] = [];
    let offset: Schemas['ExtendedPointId'] | undefined;
    do {
      const page = await this.readOrEmpty(what, () =>
        this.client.scroll(name, { ...request, limit: SCROLL_PAGE, offset, with_vector: false }),
      );
      if (!page) return [];
      points.push(...page.points);
      offset = nextOffset(page.next_page_offset);
    } while (offset !== undefined);
    return points;
  }

  async count(name: string, filter: PointFilter): Promise<number> {
    assertCollectionName(name);
    if (filter.ids?.length === 0 || filter.collections?.length === 0) return 0;
    const result = await this.readOrEmpty('count', () =>
      this.client.count(name, { filter: pointFilter(filter), exact: true }),
    );
    return result?.count ?? 0;
  }

  async readDocument(name: string, query: DocumentReadQuery): Promise<ChunkPayload[]> {
    assertCollectionName(name);
    if (query.collections?.length === 0) return [];
    const chunks: ChunkPayload[] = [];
    let offset: Schemas['ExtendedPointId'] | undefined;
    do {
      const page = await this.readOrEmpty('scroll', () =>
        this.client.scroll(name, {
          filter: pointFilter({
            tenant: query.tenant,
            documentId: query.documentId,
            groups: query.groups,
            ...(query.collections ? { collections: query.collections } : {}),
          }),
          limit: SCROLL_PAGE,
          offset,
          with_payload: true,
          with_vector: false,
        }),
      );
      if (!page) return [];
      for (const point of page.points) chunks.push(toPayload(point.payload));
      offset = nextOffset(page.next_page_offset);
    } while (offset !== undefined);
    return chunks.sort((a, b) => a.version - b.version || a.chunkIndex - b.chunkIndex);
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

  /**
   * Deleting a whole document first reads its newest version's supersedes per collection and keeps
   * them as a point without vectors (never searched, matched by no filter on `tenant` or
   * `documentId`), one per tenant, collection and document id, before the delete: links of a
   * document still stored are ignored, so no query between the two requests sees the chain broken.
   */
  async deleteByFilter(name: string, filter: DocumentDeletion): Promise<void> {
    assertCollectionName(name);
    const links = filter.keep
      ? []
      : withdrawnPoints(
          filter,
          await this.scrollAll(name, 'withdrawn document scroll', {
            filter: deletionFilter(filter),
            with_payload: { include: ['collection', 'version', 'supersedes'] },
          }),
        );
    if (links.length > 0)
      await this.call('record withdrawn links', () =>
        this.client.upsert(name, { wait: true, points: links }),
      );
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
    const request = denseRequest(vector, scope, filter, withPayload);
    if (!request) return [];
    const result = await this.readOrEmpty('query', () => this.client.query(name, request));
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

type QueryRequest = Schemas['QueryRequest'];

/** The nearest points by the dense vector within the filter; undefined when the scope asks for nothing. */
export function denseRequest(
  vector: readonly number[],
  scope: Scope,
  filter: Schemas['Filter'],
  withPayload: boolean,
): QueryRequest | undefined {
  if (scope.collections.length === 0 || scope.limit < 1) return undefined;
  return {
    query: [...vector],
    using: DENSE_VECTOR,
    filter,
    limit: Math.floor(scope.limit),
    ...(scope.minScore !== undefined ? { score_threshold: scope.minScore } : {}),
    with_payload: withPayload,
    with_vector: false,
  };
}

/**
 * The best BM25 matches among readable points: the query text goes to Qdrant's BM25 model (the
 * same tokenising and stemming as the points' sparse vectors), scored on the IDF-modified sparse
 * vector. Undefined when the query asks for nothing or has no words.
 */
export function lexicalRequest(query: LexicalQuery): QueryRequest | undefined {
  const text = query.text.slice(0, MAX_LEXICAL_QUERY_CHARS);
  if (query.collections.length === 0 || query.limit < 1 || !/[\p{L}\p{N}]/u.test(text)) return undefined;
  return {
    query: { text, model: BM25_MODEL, options: BM25_OPTIONS },
    using: LEXICAL_VECTOR,
    filter: scopeFilter(query, query.groups),
    limit: Math.floor(query.limit),
    with_payload: true,
    with_vector: false,
  };
}

/** What a point's BM25 vector is built from: title, headings and text, as PGlite indexes them. */
export function lexicalText(payload: Pick<ChunkPayload, 'title' | 'sectionPath' | 'text'>): string {
  return [payload.title, ...payload.sectionPath, payload.text].join('\n');
}

function toScoredChunks(points: readonly Schemas['ScoredPoint'][]): ScoredChunk[] {
  return points.map((p) => ({ id: String(p.id), score: p.score, payload: toPayload(p.payload) }));
}

/** The size of the named dense vector. */
function vectorSize(vectors: Schemas['VectorsConfig'] | undefined): number | undefined {
  const dense: unknown =
    vectors && typeof vectors === 'object' ? (vectors as Record<string, unknown>)[DENSE_VECTOR] : undefined;
  if (dense && typeof dense === 'object' && 'size' in dense && typeof dense.size === 'number')
    return dense.size;
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

/** The payload key under which a withdrawn document's tenant, collection and id are kept. */
const WITHDRAWN = 'withdrawn';

/** The link points recording a wholly deleted document's newest supersedes, one per collection it was in. */
function withdrawnPoints(
  filter: DocumentDeletion,
  points: readonly Schemas['Record'][],
): Schemas['PointStruct'][] {
  const newest = new Map<string, { version: number; supersedes: string[] }>();
  for (const point of points) {
    const p = toPayload(point.payload);
    const had = newest.get(p.collection);
    if (!had || p.version > had.version)
      newest.set(p.collection, { version: p.version, supersedes: [...(p.supersedes ?? [])] });
  }
  return [...newest.entries()].map(([collection, { supersedes }]) => ({
    id: withdrawnPointId(filter.tenant, collection, filter.documentId),
    vector: {},
    payload: {
      [WITHDRAWN]: { tenant: filter.tenant, collection, documentId: filter.documentId },
      supersedes,
    },
  }));
}

/** A stable UUID per withdrawn document, so withdrawing it again replaces its links. */
function withdrawnPointId(tenant: string, collection: string, documentId: string): string {
  const hex = createHash('sha256')
    .update(`withdrawn\u0000${tenant}\u0000${collection}\u0000${documentId}`)
    .digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The link a withdrawn document's point records; none when the payload is not one. */
function withdrawnLinkOf(payload: Schemas['Record']['payload']): SupersessionLink[] {
  const at = payload?.[WITHDRAWN];
  const supersedes = payload?.['supersedes'];
  if (typeof at !== 'object' || at === null || !Array.isArray(supersedes)) return [];
  const documentId = (at as Record<string, unknown>)['documentId'];
  if (typeof documentId !== 'string' || supersedes.length === 0) return [];
  return [{ documentId, supersedes: supersedes.map(String), withdrawn: true }];
}
