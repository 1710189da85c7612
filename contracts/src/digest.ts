import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * Hex SHA-256 of a value's RFC 8785 (JSON Canonicalization Scheme) form: key order and number
 * spelling do not change it, any other difference does. The one way the platform fingerprints a
 * JSON value: audit chain records and tombstones, approved tool calls, cache keys.
 * @throws TypeError when the value has no JSON form (undefined, a function, a symbol at the top).
 */
export function canonicalDigest(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonicalDigest: the value has no JSON form');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
