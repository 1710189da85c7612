import { RetrievalError } from '../errors';

const COLLECTION_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks a store collection name (safe as an SQL identifier and a Qdrant name) and returns it quoted. */
export function assertCollectionName(name: string): string {
  if (!COLLECTION_NAME.test(name)) {
    throw new RetrievalError(
      'invalid_collection_name',
      `store collection name "${name}" must be 1-63 characters of a-z, 0-9 and _, not starting with a digit; build it with vectorCollectionName()`,
    );
  }
  return `"${name}"`;
}

/** A vector as pgvector's text form, rejecting NaN and infinities. */
export function vectorLiteral(vector: readonly number[]): string {
  for (const value of vector) {
    if (!Number.isFinite(value))
      throw new RetrievalError('invalid_vector', 'vectors must hold finite numbers only');
  }
  return `[${vector.join(',')}]`;
}
