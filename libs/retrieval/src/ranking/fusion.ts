/** The conventional RRF constant: damps the difference between the first few ranks. */
export const RRF_K = 60;

/** One ranked list to fuse, best first, with how much it counts. */
export interface RankedList<T> {
  readonly items: readonly T[];
  /** Multiplies every contribution of the list. Default 1. */
  readonly weight?: number;
}

export interface Fused<T> {
  readonly item: T;
  readonly score: number;
}

/**
 * Reciprocal rank fusion: each list adds weight × itemWeight / (k + rank) to an item (rank from 1),
 * so lists with incomparable scores (cosine, BM25, a reranker's) combine by position alone. The
 * first occurrence of a key supplies the item. Ties keep first-seen order.
 */
export function reciprocalRankFusion<T>(
  lists: readonly RankedList<T>[],
  key: (item: T) => string,
  options: { k?: number; itemWeight?: (item: T) => number } = {},
): Fused<T>[] {
  const k = options.k ?? RRF_K;
  const fused = new Map<string, { item: T; score: number; order: number }>();
  for (const list of lists) {
    const weight = list.weight ?? 1;
    list.items.forEach((item, index) => {
      const id = key(item);
      const contribution = (weight * (options.itemWeight?.(item) ?? 1)) / (k + index + 1);
      const entry = fused.get(id);
      if (entry) entry.score += contribution;
      else fused.set(id, { item, score: contribution, order: fused.size });
    });
  }
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .map(({ item, score }) => ({ item, score }));
}
