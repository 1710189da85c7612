import { LRUCache } from 'lru-cache';
import type { ModelUsage } from '@llmbus/contracts';
import { addUsage, type Embedder } from './embedder';

/** A candidate passage as a reranker sees it. */
export interface RerankCandidate {
  /** Stable chunk id: rerankers may cache per id. */
  readonly id: string;
  readonly title: string;
  readonly sectionPath: readonly string[];
  readonly text: string;
}

export interface RerankResult {
  /** One relevance score per candidate, in candidate order; higher is more relevant. */
  readonly scores: number[];
  readonly usage?: ModelUsage;
}

/** Re-scores a short list of candidates against the query with a model finer than the first-stage search. */
export interface Reranker {
  /** For logs, e.g. `embedding-maxsim`. */
  readonly name: string;
  rerank(query: string, candidates: readonly RerankCandidate[]): Promise<RerankResult>;
}

const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

/** Sentence windows of a passage: pairs of consecutive sentences, each under its headings. */
export function passageWindows(candidate: Pick<RerankCandidate, 'title' | 'sectionPath' | 'text'>): string[] {
  const heading = [candidate.title, ...candidate.sectionPath].filter(Boolean).join(' > ');
  const sentences = [...sentenceSegmenter.segment(candidate.text)]
    .map((s) => s.segment.trim())
    .filter(Boolean);
  if (sentences.length <= 2) return [`${heading}\n${candidate.text}`];
  const windows: string[] = [];
  for (let i = 0; i < sentences.length - 1; i++)
    windows.push(`${heading}\n${sentences[i]} ${sentences[i + 1]}`);
  return windows;
}

export interface EmbeddingRerankerOptions {
  /** Chunks whose window vectors are kept between queries. Default 5 000. */
  readonly cacheSize?: number;
  /** Weight of the best window against the whole passage. Default 0.5. */
  readonly windowWeight?: number;
}

/**
 * A late-interaction reranker over the embedding model: a passage scores by its best-matching
 * window of two sentences, blended with its whole-text similarity. A whole chunk's vector averages
 * several topics; a window's does not, so the sentence that answers the question counts fully.
 * Window vectors are cached per chunk id, so each chunk is embedded once per process.
 */
export class EmbeddingReranker implements Reranker {
  readonly name = 'embedding-maxsim';
  private readonly cache: LRUCache<string, { whole: number[]; windows: number[][] }>;
  private readonly windowWeight: number;

  constructor(
    private readonly embedder: Embedder,
    options: EmbeddingRerankerOptions = {},
  ) {
    this.cache = new LRUCache({ max: options.cacheSize ?? 5_000 });
    this.windowWeight = options.windowWeight ?? 0.5;
  }

  async rerank(query: string, candidates: readonly RerankCandidate[]): Promise<RerankResult> {
    if (candidates.length === 0) return { scores: [] };
    const missing = candidates.filter((c) => !this.cache.has(c.id));
    const texts = [query];
    const spans: { id: string; start: number; windows: number }[] = [];
    for (const c of missing) {
      const windows = passageWindows(c);
      spans.push({ id: c.id, start: texts.length, windows: windows.length });
      texts.push(`${[c.title, ...c.sectionPath].filter(Boolean).join(' > ')}\n\n${c.text}`, ...windows);
    }
    const embedded = await this.embedder.embed(texts);
    for (const span of spans) {
      this.cache.set(span.id, {
        whole: embedded.vectors[span.start],
        windows: embedded.vectors.slice(span.start + 1, span.start + 1 + span.windows),
      });
    }
    const q = embedded.vectors[0];
    const scores = candidates.map((c) => {
      const cached = this.cache.get(c.id);
      if (!cached) return 0; // evicted mid-call by a tiny cache: rank last rather than fail
      const best = Math.max(...cached.windows.map((w) => dot(q, w)));
      return this.windowWeight * best + (1 - this.windowWeight) * dot(q, cached.whole);
    });
    return { scores, usage: addUsage(undefined, embedded.usage) };
  }
}

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}
