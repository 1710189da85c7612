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

/**
 * A vector in pgvector's binary form (what its receive function reads: dimension and a reserved
 * zero as big-endian int16, then each element as a big-endian float4), rejecting NaN, infinities
 * and elements past float4's range. Sent as a binary parameter it spares formatting the vector as
 * text and PostgreSQL parsing it back, per query. Elements are rounded to the nearest float4 (ties
 * to even), as from text, except a double exactly halfway between two float4s, whose shortest
 * decimal text may round the other way: float4 inputs (what embedding models give) are equal.
 */
export function vectorBinary(vector: readonly number[]): Uint8Array {
  const bytes = new DataView(new ArrayBuffer(4 + 4 * vector.length));
  bytes.setInt16(0, vector.length);
  bytes.setInt16(2, 0);
  vector.forEach((value, i) => {
    bytes.setFloat32(4 + 4 * i, value);
    if (!Number.isFinite(bytes.getFloat32(4 + 4 * i)))
      throw new RetrievalError('invalid_vector', 'vectors must hold finite float4 numbers only');
  });
  return new Uint8Array(bytes.buffer);
}
