/** What each stored chunk carries besides its vector: enough to filter, cite and re-index it. */
export interface ChunkPayload {
  readonly tenant: string;
  /** Logical collection the document was submitted to (e.g. `hr-policies`), not the store collection. */
  readonly collection: string;
  /** Groups that may read the chunk; empty means every user of the tenant. */
  readonly aclGroups: readonly string[];
  readonly documentId: string;
  readonly version: number;
  readonly title: string;
  readonly sourceUri: string;
  readonly sectionPath: readonly string[];
  readonly chunkIndex: number;
  readonly contentHash: string;
  readonly text: string;
  /** Document ids (same tenant) this chunk's document replaces once in effect; absent or empty: none. */
  readonly supersedes?: readonly string[];
  /** ISO 8601 date (`YYYY-MM-DD`) from which the document applies; absent: always. */
  readonly effectiveDate?: string;
  /** The publisher's free-form version label ("2023.1", "FY2025"). */
  readonly versionLabel?: string;
}

export interface VectorPoint {
  /** A UUID. */
  readonly id: string;
  readonly vector: readonly number[];
  readonly payload: ChunkPayload;
}

export interface ScoredChunk {
  readonly id: string;
  /** `search`: cosine similarity, higher is nearer (1 = same direction). `lexicalSearch`: BM25, higher matches better. */
  readonly score: number;
  readonly payload: ChunkPayload;
}

/** A point's id and score, without any of its content. */
export interface RankedId {
  readonly id: string;
  readonly score: number;
}

/** Where to look: always one tenant, and some of its logical collections. */
export interface Scope {
  readonly tenant: string;
  /** Logical collections to search; empty matches nothing. */
  readonly collections: readonly string[];
  readonly limit: number;
  /** Points scoring below this cosine similarity are left out. */
  readonly minScore?: number;
}

export interface SearchQuery extends Scope {
  /** The requester's groups: a point matches when its aclGroups is empty or shares a group. */
  readonly groups: readonly string[];
}

/** A full-text query over chunk titles, headings and text, scoped and ACL-filtered like a vector search. */
export interface LexicalQuery extends Omit<SearchQuery, 'minScore'> {
  /** The requester's words; any of them may match (OR), rarer words weigh more (BM25). */
  readonly text: string;
}

/**
 * One query searched both ways: by vector (like `search`) and by words (like `lexicalSearch`).
 * `minScore` applies to both lists: the BM25 list is `lexicalSearch`'s best `limit` matches less
 * those whose cosine similarity to the vector is below it, so nothing either list returns is less
 * similar to the vector than `minScore`.
 */
export interface HybridQuery extends SearchQuery {
  /** The requester's words, as `LexicalQuery.text`. */
  readonly text: string;
  /**
   * When set, `HybridLists.withheld` counts, of the scope's `limit` points nearest to the vector
   * ignoring ACLs (cosine similarity at least `minScore`), those `groups` may not read: what
   * `rankIds` followed by a `count` with the groups gives, in the same request.
   */
  readonly withheld?: { readonly limit: number; readonly minScore?: number };
}

/** The two ranked lists of a hybrid query: what `search` returns, and what `lexicalSearch` returns at least `minScore` similar to the vector. */
export interface HybridLists {
  readonly vector: ScoredChunk[];
  readonly lexical: ScoredChunk[];
  /** Present when the query asked for it (`HybridQuery.withheld`): points of the ranking hidden from the groups. */
  readonly withheld?: number;
}

/** Whose supersession links to read: the documents `groups` may read in the scope. */
export type SupersessionQuery = Omit<SearchQuery, 'limit' | 'minScore'>;

/**
 * One document's `supersedes` (its newest version's), for deciding at query time what is retired
 * (see supersessionOf). A withdrawn document (deleted, not submitted again since) keeps its links so
 * that deleting the middle of a chain does not bring its oldest version back.
 */
export interface SupersessionLink {
  readonly documentId: string;
  /** Document ids it replaces once in effect; never empty. */
  readonly supersedes: readonly string[];
  /** ISO 8601 date from which it applies; absent: always (and for a withdrawn document). */
  readonly effectiveDate?: string;
  readonly versionLabel?: string;
  /** Set for a withdrawn document: its links pass supersession on, it retires nothing itself. */
  readonly withdrawn?: true;
}

/** Points to count; every given condition must hold. */
export interface PointFilter {
  readonly tenant: string;
  readonly ids?: readonly string[];
  readonly collections?: readonly string[];
  readonly documentId?: string;
  /** When set, only points these groups may read (aclGroups empty or shared). */
  readonly groups?: readonly string[];
}

/** One document of a tenant, as a requester with `groups` may read it. */
export interface DocumentReadQuery {
  readonly tenant: string;
  readonly documentId: string;
  readonly groups: readonly string[];
  /** When set, only the document's chunks in these logical collections. */
  readonly collections?: readonly string[];
}

/** Deletes a document's points in a tenant, except the ones that match `keep`. */
export interface DocumentDeletion {
  readonly tenant: string;
  readonly documentId: string;
  /** When set, only the document's points in this logical collection. */
  readonly collection?: string;
  /** Keep this version's points whose chunkIndex is below `chunkCount`; omit to delete every point. */
  readonly keep?: { readonly version: number; readonly chunkCount: number };
}

/** A stored chunk as ingestion sees it when deciding whether a document changed. */
export type StoredChunk = Omit<ChunkPayload, 'text' | 'tenant' | 'documentId' | 'sectionPath'> & {
  readonly id: string;
};

/**
 * The vector store port. `name` is the store collection (one per embedding model and dimension, see
 * `vectorCollectionName`); the logical collection is a payload field. Tenant and ACL conditions
 * are evaluated by the store inside the query, never by filtering results in application code.
 */
export interface VectorStore {
  /** `qdrant` or `pglite`, for logs. */
  readonly kind: string;
  /** Creates the collection and its indexes when missing; fails with `dimension_mismatch` if it exists with another size. */
  ensureCollection(name: string, dimension: number): Promise<void>;
  /** Inserts or replaces points by id; resolves once they are searchable. */
  upsert(name: string, points: readonly VectorPoint[]): Promise<void>;
  /** The nearest points the requester may read, nearest first. */
  search(name: string, vector: readonly number[], query: SearchQuery): Promise<ScoredChunk[]>;
  /**
   * The points the requester may read that best match the words of `query.text`, best first, scored
   * with BM25 whose statistics (document count, frequencies, lengths) cover only what the requester
   * may read, so scores reveal nothing about hidden chunks.
   */
  lexicalSearch(name: string, query: LexicalQuery): Promise<ScoredChunk[]>;
  /**
   * `search` and `lexicalSearch` of one query together, in one round trip where the store allows
   * (Qdrant: one batch request of the dense and the sparse query). `minScore` applies to both lists
   * (cosine similarity to the vector, see `HybridQuery`).
   */
  hybridSearch(name: string, vector: readonly number[], query: HybridQuery): Promise<HybridLists>;
  /**
   * The nearest points of the scope ignoring ACLs, as ids and scores only: used to count what a
   * requester was not shown, never to show it.
   */
  rankIds(name: string, vector: readonly number[], scope: Scope): Promise<RankedId[]>;
  /**
   * The supersession links of the scope, ordered by document id: of every readable document that
   * supersedes something (its newest version's metadata, whatever its effective date), and of
   * every document withdrawn from the scope's collections that superseded something and is not
   * stored again (withdrawn: true, any ACL: it shows nothing, it only links). A whole-document
   * `deleteByFilter` (no `keep`) records the withdrawn document's links.
   */
  supersessions(name: string, query: SupersessionQuery): Promise<SupersessionLink[]>;
  /** Exact number of points matching the filter. */
  count(name: string, filter: PointFilter): Promise<number>;
  /**
   * The chunks of a document, with their text, that `query.groups` may read (aclGroups empty or
   * shared) in the tenant, any version, ordered by version then chunkIndex. Empty when the document
   * does not exist and when the groups may not read it: the caller cannot tell which, by design.
   */
  readDocument(name: string, query: DocumentReadQuery): Promise<ChunkPayload[]>;
  /** Every stored chunk of a document in a tenant, any version, ordered by version then chunkIndex. */
  listDocumentChunks(name: string, tenant: string, documentId: string): Promise<StoredChunk[]>;
  /**
   * Deletes a document's points (all, or all but the kept version's); resolves once they are gone.
   * Deleting all of them records the document's supersession links (see `supersessions`).
   */
  deleteByFilter(name: string, filter: DocumentDeletion): Promise<void>;
  close(): Promise<void>;
}
