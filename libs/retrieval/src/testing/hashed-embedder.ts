import { createHash } from 'node:crypto';
import type { ModelUsage } from '@llmbus/contracts';
import type { Embedder } from '../embedder';

const STOP_WORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'at',
  'be',
  'by',
  'for',
  'from',
  'how',
  'in',
  'is',
  'it',
  'of',
  'on',
  'or',
  'the',
  'to',
  'what',
  'with',
]);

/**
 * Test double at the Embedder port: a deterministic hashed bag of words, L2-normalised. Texts that
 * share words are near; texts that share none are orthogonal. No model, no I/O.
 */
export class HashedBagOfWordsEmbedder implements Embedder {
  /** Every text passed to `embed`, in order. */
  readonly calls: string[][] = [];

  constructor(
    readonly dimension = 256,
    readonly modelId = 'test-hashed-bow',
  ) {}

  async embed(
    texts: readonly string[],
  ): Promise<{ vectors: number[][]; dimension: number; usage: ModelUsage }> {
    this.calls.push([...texts]);
    const vectors = texts.map((t) => this.vectorOf(t));
    const promptTokens = texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
    return {
      vectors,
      dimension: this.dimension,
      usage: {
        modelId: this.modelId,
        provider: 'test',
        promptTokens,
        completionTokens: 0,
        costUsd: 0,
        latencyMs: 0,
      },
    };
  }

  /** The vector of one text (also handy for store-level tests). */
  vectorOf(text: string): number[] {
    const vector = new Array<number>(this.dimension).fill(0);
    for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
      if (STOP_WORDS.has(word)) continue;
      const digest = createHash('sha256').update(word).digest();
      vector[digest.readUInt32BE(0) % this.dimension] += digest[4] & 1 ? 1 : -1;
    }
    const norm = Math.hypot(...vector);
    if (norm === 0) {
      vector[0] = 1; // a text with no words still needs a direction
      return vector;
    }
    return vector.map((v) => v / norm);
  }
}
