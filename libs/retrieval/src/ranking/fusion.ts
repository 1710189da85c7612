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

/** How a list's raw scores are put on a 0-to-1 scale before they are added. */
export type ScoreNormalisation =
  /** Scores used as they are (cosine similarity is already on an absolute scale). */
  | 'none'
  /** Score / best score of the list: the best match gets 1, relative strength is kept. */
  | 'max'
  /** (score − worst) / (best − worst). */
  | 'min-max'
  /** Distribution-based (DBSF, as in Qdrant): (score − (μ − 3σ)) / 6σ, clipped to 0..1. */
  | 'dbsf';

/** One scored list to fuse, best first. */
export interface ScoredList<T> extends RankedList<T> {
  /** The raw score of an item (cosine, BM25). */
  readonly score: (item: T) => number;
  readonly normalisation: ScoreNormalisation;
}

/** The list's scores on a 0-to-1 scale, in item order. */
export function normalisedScores(scores: readonly number[], normalisation: ScoreNormalisation): number[] {
  if (scores.length === 0) return [];
  switch (normalisation) {
    case 'none':
      return [...scores];
    case 'max': {
      const best = Math.max(...scores);
      return scores.map((s) => (best > 0 ? Math.max(0, s) / best : 0));
    }
    case 'min-max': {
      const best = Math.max(...scores);
      const worst = Math.min(...scores);
      return scores.map((s) => (best > worst ? (s - worst) / (best - worst) : 1));
    }
    case 'dbsf': {
      const mean = scores.reduce((n, s) => n + s, 0) / scores.length;
      const sd = Math.sqrt(scores.reduce((n, s) => n + (s - mean) ** 2, 0) / scores.length);
      if (sd === 0) return scores.map(() => 1);
      return scores.map((s) => Math.min(1, Math.max(0, (s - (mean - 3 * sd)) / (6 * sd))));
    }
  }
}

/**
 * Weighted score fusion (a convex combination when the weights sum to 1): each list adds
 * weight × itemWeight × its normalised score to an item, so a chunk that one list finds far better
 * than the rest keeps that margin, and a chunk that a list barely matched (one incidental word)
 * gains little, unlike rank fusion where any presence in a list is worth about the same.
 * The first occurrence of a key supplies the item; ties keep first-seen order.
 */
export function weightedScoreFusion<T>(
  lists: readonly ScoredList<T>[],
  key: (item: T) => string,
  options: { itemWeight?: (item: T) => number } = {},
): Fused<T>[] {
  const fused = new Map<string, { item: T; score: number; order: number }>();
  for (const list of lists) {
    const weight = list.weight ?? 1;
    const normalised = normalisedScores(list.items.map(list.score), list.normalisation);
    list.items.forEach((item, index) => {
      const id = key(item);
      const contribution = weight * (options.itemWeight?.(item) ?? 1) * (normalised[index] ?? 0);
      const entry = fused.get(id);
      if (entry) entry.score += contribution;
      else fused.set(id, { item, score: contribution, order: fused.size });
    });
  }
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .map(({ item, score }) => ({ item, score }));
}
