import type { ModelUsage } from '@llmbus/contracts';
import type { Embedder } from '../embedder';

/** Texts whose vectors are kept between retrievals: a corpus's vocabulary and its best passages recur from question to question. */
const DEFAULT_CAPACITY = 20_000;

/**
 * Embeddings of short texts (single words, passages), kept in a least-recently-used cache, to say
 * how near a question word is to a passage that lacks the word itself ("vendor" to a passage on
 * suppliers, "gym" to a passage on leave).
 */
export class TextVectors {
  private readonly cache = new Map<string, Float32Array>();

  constructor(
    private readonly embedder: Embedder,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {}

  /**
   * For each text of `words`, the best cosine similarity to any of `candidates` (−1 to 1; 0 when
   * there are no candidates). Embeds, in one call, the texts not cached yet; `usage` is that call's.
   */
  async bestMatches(
    words: readonly string[],
    candidates: readonly string[],
  ): Promise<{ similarities: number[]; usage?: ModelUsage }> {
    if (words.length === 0) return { similarities: [] };
    const usage = await this.load([...words, ...candidates]);
    const candidateVectors = candidates.map((c) => this.vector(c));
    const similarities = words.map((w) => {
      const v = this.vector(w);
      let best = candidateVectors.length === 0 ? 0 : -1;
      for (const c of candidateVectors) best = Math.max(best, dot(v, c));
      return best;
    });
    return { similarities, usage };
  }

  /**
   * Cosine similarity of `vector` (any length scale: it is normalised here) to each of `texts`, in
   * order. Embeds, in one call, the texts not cached yet; `usage` is that call's.
   */
  async similaritiesTo(
    vector: readonly number[],
    texts: readonly string[],
  ): Promise<{ similarities: number[]; usage?: ModelUsage }> {
    if (texts.length === 0) return { similarities: [] };
    const usage = await this.load(texts);
    const v = unit(vector);
    return { similarities: texts.map((t) => dot(v, this.vector(t))), usage };
  }

  private async load(words: readonly string[]): Promise<ModelUsage | undefined> {
    const missing = [...new Set(words)].filter((w) => !this.cache.has(w));
    if (missing.length === 0) return undefined;
    const { vectors, usage } = await this.embedder.embed(missing);
    missing.forEach((w, i) => this.remember(w, unit(vectors[i] ?? [])));
    return usage;
  }

  private vector(word: string): Float32Array {
    const v = this.cache.get(word) ?? new Float32Array(0);
    // Re-inserting moves the word to the most recently used end.
    this.cache.delete(word);
    this.cache.set(word, v);
    return v;
  }

  private remember(word: string, vector: Float32Array): void {
    this.cache.set(word, vector);
    while (this.cache.size > this.capacity) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}

function unit(vector: readonly number[]): Float32Array {
  const norm = Math.sqrt(vector.reduce((n, x) => n + x * x, 0)) || 1;
  return Float32Array.from(vector, (x) => x / norm);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
  return s;
}
