export const RETRIEVAL_ERROR_CODES = [
  /** The embedder returned the wrong number of vectors, or vectors of the wrong size. */
  'embedding_mismatch',
  /** A store collection exists with another dimension than the embedder produces. */
  'dimension_mismatch',
  /** A name cannot be used as a store collection (table) name. */
  'invalid_collection_name',
  /** A vector holds NaN or Infinity. */
  'invalid_vector',
  /** The vector store did not answer, or answered with a server error, after the retries. */
  'store_unavailable',
  /** The vector store refused a request; retrying will not help. */
  'store_rejected',
] as const;
export type RetrievalErrorCode = (typeof RETRIEVAL_ERROR_CODES)[number];

const RETRYABLE: ReadonlySet<RetrievalErrorCode> = new Set(['store_unavailable']);

/**
 * A retrieval or ingestion failure with a machine-readable code. `retryable` tells the bus whether
 * a later attempt may succeed (the bus reads that property).
 */
export class RetrievalError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: RetrievalErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RetrievalError';
    this.retryable = RETRYABLE.has(code);
  }
}
