import type { ModelUsage } from '@llmbus/contracts';
import { RetrievalError } from './errors';

/**
 * The embedding port retrieval needs. `ModelProvider` from @llmbus/models satisfies it as is
 * (its `embed` takes an extra optional options argument).
 */
export interface Embedder {
  /** One L2-normalised vector per input text, in input order. */
  embed(texts: readonly string[]): Promise<{ vectors: number[][]; dimension: number; usage: ModelUsage }>;
}

export type EmbeddingResult = Awaited<ReturnType<Embedder['embed']>>;

/** Where an embedder's vectors live: one store collection per embedding model and dimension. */
export interface EmbeddingSpace {
  readonly modelId: string;
  readonly dimension: number;
  /** Store collection name: `chunks_<model slug>_<dimension>`. */
  readonly collectionName: string;
}

/** Store collection name for an embedding model and dimension (lower-case, `[a-z0-9_]`, ≤ 63 chars). */
export function vectorCollectionName(modelId: string, dimension: number): string {
  const slug = modelId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  const suffix = `_${dimension}`;
  const budget = 63 - 'chunks_'.length - suffix.length;
  return `chunks_${(slug || 'model').slice(0, budget)}${suffix}`;
}

/** Checks an embedding response against its inputs and returns the space it belongs to. */
export function checkEmbedding(texts: readonly string[], result: EmbeddingResult): EmbeddingSpace {
  const { vectors, dimension, usage } = result;
  if (!Number.isInteger(dimension) || dimension < 1) {
    throw new RetrievalError(
      'embedding_mismatch',
      `embedder reported dimension ${dimension}; expected a positive integer`,
    );
  }
  if (vectors.length !== texts.length) {
    throw new RetrievalError(
      'embedding_mismatch',
      `embedder returned ${vectors.length} vectors for ${texts.length} texts; it must return one per text, in order`,
    );
  }
  for (const vector of vectors) {
    if (vector.length !== dimension) {
      throw new RetrievalError(
        'embedding_mismatch',
        `embedder returned a ${vector.length}-dimensional vector but reported dimension ${dimension}`,
      );
    }
  }
  return {
    modelId: usage.modelId,
    dimension,
    collectionName: vectorCollectionName(usage.modelId, dimension),
  };
}

/**
 * Resolves the embedder's space once per process. Ingestion needs it before embedding anything (to
 * find what is already stored), so the first call embeds a short probe text.
 */
export class EmbeddingSpaceResolver {
  private space?: EmbeddingSpace;
  private probing?: Promise<EmbeddingSpace>;

  constructor(private readonly embedder: Embedder) {}

  /** The space of the embedder, probing it once if no embedding has been observed yet. */
  async resolve(): Promise<EmbeddingSpace> {
    if (this.space) return this.space;
    const probe = ['space probe'];
    this.probing ??= this.embedder.embed(probe).then(
      (result) => this.observe(probe, result),
      (error: unknown) => {
        this.probing = undefined; // let the next call try again
        throw error;
      },
    );
    return this.probing;
  }

  /** Checks a response and records its space; a model or dimension change mid-process is an error. */
  observe(texts: readonly string[], result: EmbeddingResult): EmbeddingSpace {
    const space = checkEmbedding(texts, result);
    if (this.space && this.space.collectionName !== space.collectionName) {
      throw new RetrievalError(
        'embedding_mismatch',
        `embedder switched from ${this.space.modelId} (${this.space.dimension} dims) to ${space.modelId} (${space.dimension} dims) within one process; restart the stage after changing the embedding model`,
      );
    }
    this.space ??= space;
    return space;
  }
}

/** Sums the usage of several embedding calls into one record (latencies add up). */
export function addUsage(total: ModelUsage | undefined, next: ModelUsage): ModelUsage {
  if (!total) return { ...next };
  return {
    modelId: total.modelId,
    provider: total.provider,
    promptTokens: total.promptTokens + next.promptTokens,
    completionTokens: total.completionTokens + next.completionTokens,
    costUsd: total.costUsd + next.costUsd,
    latencyMs: total.latencyMs + next.latencyMs,
  };
}
