import type { ModelUsage, Passage } from '@llmbus/contracts';
import { Embedder, EmbeddingSpaceResolver } from './embedder';
import type { ScoredChunk, VectorStore } from './vector-store';

/** What to retrieve, for whom: RequestRouted's retrieval plan, the requester's groups and the tenant. */
export interface RetrievalRequest {
  readonly tenant: string;
  readonly collections: readonly string[];
  readonly topK: number;
  readonly query: string;
  readonly groups: readonly string[];
}

export interface RetrievalResult {
  /** Nearest first; only passages the requester may read. */
  readonly passages: Passage[];
  /** Of the topK most relevant passages in the tenant's collections, how many the requester may not read. */
  readonly withheldCount: number;
  /** Embedding usage of the query; absent when nothing was embedded. */
  readonly usage?: ModelUsage;
}

export interface RetrieverOptions {
  /** Cosine similarity below which a passage is not relevant (neither returned nor counted as withheld). Default 0.2. */
  readonly minScore?: number;
}

export const DEFAULT_MIN_SCORE = 0.2;

/** Passage.text limit of the ContextRetrieved contract. */
const PASSAGE_TEXT_LIMIT = 20_000;

/**
 * Vector retrieval with tenant and permission filters applied by the store inside the query.
 * Query decomposition and reranking can wrap this class; they need no change to the store port.
 */
export class Retriever {
  private readonly space: EmbeddingSpaceResolver;
  private readonly minScore: number;

  constructor(
    private readonly embedder: Embedder,
    private readonly store: VectorStore,
    options: RetrieverOptions = {},
  ) {
    this.space = new EmbeddingSpaceResolver(embedder);
    this.minScore = options.minScore ?? DEFAULT_MIN_SCORE;
  }

  /** True when the plan asks for nothing, so neither the embedder nor the store is called. */
  static isEmpty(request: Pick<RetrievalRequest, 'collections' | 'topK' | 'query'>): boolean {
    return request.topK < 1 || request.collections.length === 0 || request.query.trim() === '';
  }

  /** Embeds the query and returns the nearest readable passages, with a count of what was withheld. */
  async retrieve(request: RetrievalRequest): Promise<RetrievalResult> {
    if (Retriever.isEmpty(request)) return { passages: [], withheldCount: 0 };
    const texts = [request.query];
    const embedding = await this.embedder.embed(texts);
    const space = this.space.observe(texts, embedding);
    const vector = embedding.vectors[0];
    await this.store.ensureCollection(space.collectionName, space.dimension);
    const scope = {
      tenant: request.tenant,
      collections: [...new Set(request.collections)],
      limit: request.topK,
      minScore: this.minScore,
    };
    const [found, ranked] = await Promise.all([
      this.store.search(space.collectionName, vector, { ...scope, groups: request.groups }),
      this.store.rankIds(space.collectionName, vector, scope),
    ]);
    // Which of the most relevant points are readable is decided by the store too: count by id with the ACL filter.
    const readable =
      ranked.length === 0
        ? 0
        : await this.store.count(space.collectionName, { tenant: request.tenant, ids: ranked.map((r) => r.id), groups: request.groups });
    return {
      passages: newestVersions(found).map(toPassage),
      withheldCount: ranked.length - readable,
      usage: embedding.usage,
    };
  }
}

/** While a new version replaces an old one both are stored for a moment; keep only the newest per document. */
function newestVersions(chunks: readonly ScoredChunk[]): ScoredChunk[] {
  const newest = new Map<string, number>();
  for (const c of chunks) {
    const key = `${c.payload.collection}\u0000${c.payload.documentId}`;
    newest.set(key, Math.max(newest.get(key) ?? 0, c.payload.version));
  }
  return chunks.filter((c) => newest.get(`${c.payload.collection}\u0000${c.payload.documentId}`) === c.payload.version);
}

function toPassage(chunk: ScoredChunk): Passage {
  return {
    id: chunk.id,
    documentId: chunk.payload.documentId,
    collection: chunk.payload.collection,
    title: chunk.payload.title,
    sourceUri: chunk.payload.sourceUri,
    chunkIndex: chunk.payload.chunkIndex,
    text: chunk.payload.text.slice(0, PASSAGE_TEXT_LIMIT),
    score: chunk.score,
  };
}
