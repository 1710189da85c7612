import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** Word-trigram cosine at or above which two passages count as the same content. */
export const NEAR_DUPLICATE_SIMILARITY = 0.9;

/**
 * Keeps the first of every group of duplicates, in order: exact duplicates by a hash of the
 * normalised text (the same paragraph pasted into several documents), near duplicates by the cosine
 * of their word-trigram counts (a copy with a changed date or name). Quadratic; meant for the few
 * dozen candidates of one query. A text's hash and trigram counts are remembered (2,000 texts of
 * up to 20,000 characters).
 */
export function withoutNearDuplicates<T>(
  items: readonly T[],
  textOf: (item: T) => string,
  threshold = NEAR_DUPLICATE_SIMILARITY,
): T[] {
  const kept: { item: T; shingles: ReadonlyMap<string, number>; norm: number }[] = [];
  const hashes = new Set<string>();
  // Kept items by shingle: only items sharing a shingle can be similar (cosine > 0), so each item
  // is compared with those instead of with every kept item (quadratic in the candidates).
  const withShingle = new Map<string, number[]>();
  for (const item of items) {
    const { hash, shingles, norm } = fingerprintOf(textOf(item));
    if (hashes.has(hash)) continue;
    const similar = (k: (typeof kept)[number]) =>
      k.norm > 0 && dot(k.shingles, shingles) / (k.norm * norm) >= threshold;
    if (norm > 0) {
      const sharing = new Set<number>();
      for (const shingle of shingles.keys()) for (const i of withShingle.get(shingle) ?? []) sharing.add(i);
      const compared = threshold > 0 ? [...sharing].map((i) => kept[i]) : kept;
      if (compared.some(similar)) continue;
    }
    hashes.add(hash);
    for (const shingle of shingles.keys()) {
      const list = withShingle.get(shingle) ?? [];
      list.push(kept.length);
      withShingle.set(shingle, list);
    }
    kept.push({ item, shingles, norm });
  }
  return kept.map((k) => k.item);
}

/** What near-duplicate removal compares of a text: its normalised words' hash and trigram counts. */
interface Fingerprint {
  readonly hash: string;
  readonly shingles: ReadonlyMap<string, number>;
  readonly norm: number;
}

/**
 * Fingerprints of the texts seen lately (2,000, least recently used out): the same chunks come back
 * query after query. Texts over 20,000 characters are fingerprinted at every call instead of kept.
 */
const FINGERPRINTS = new LRUCache<string, Fingerprint>({
  max: 2_000,
  maxEntrySize: 20_000,
  sizeCalculation: (_fingerprint, text) => Math.max(1, text.length),
  memoMethod: (text) => {
    const words = normalisedWords(text);
    const shingles = shingleCounts(words);
    return {
      hash: createHash('sha256').update(words.join(' ')).digest('hex'),
      shingles,
      norm: Math.hypot(...shingles.values()),
    };
  },
});

function fingerprintOf(text: string): Fingerprint {
  return FINGERPRINTS.memo(text);
}

function normalisedWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

function shingleCounts(words: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  const size = Math.min(3, words.length);
  for (let i = 0; i + size <= words.length && size > 0; i++) {
    const shingle = words.slice(i, i + size).join(' ');
    counts.set(shingle, (counts.get(shingle) ?? 0) + 1);
  }
  return counts;
}

function dot(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let sum = 0;
  for (const [k, v] of small) sum += v * (large.get(k) ?? 0);
  return sum;
}
