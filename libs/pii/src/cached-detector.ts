import { LRUCache } from 'lru-cache';
import type { PiiDetector, PiiSpan } from './pii-detector';

/**
 * A detector that remembers its answers per distinct text (least recently used first out, bounded
 * by the total characters cached). Stages that see the same text many times (the auditor stores
 * every event of a request, each repeating its input and passages) detect it once.
 */
export class CachedPiiDetector implements PiiDetector {
  readonly name: string;
  private readonly cache: LRUCache<string, PiiSpan[]>;

  /** `maxChars`: the characters of text kept as cache keys, 4 million by default (about 8 MB). */
  constructor(
    private readonly detector: PiiDetector,
    maxChars = 4_000_000,
  ) {
    this.name = detector.name;
    this.cache = new LRUCache({
      maxSize: maxChars,
      sizeCalculation: (_spans, text) => Math.max(1, text.length),
    });
  }

  /** The inner detector's spans, from the cache when this text was seen before. */
  detect(text: string): PiiSpan[] {
    let spans = this.cache.get(text);
    if (spans === undefined) {
      spans = this.detector.detect(text);
      if (text.length <= 4_000_000) this.cache.set(text, spans);
    }
    return spans;
  }
}
