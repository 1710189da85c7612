import type { PiiDetector, PiiSpan } from './pii-detector';

/**
 * Runs several detectors over the same text and merges their spans. Where spans overlap, the one
 * with the higher score wins, then the longer one; the result is ordered and non-overlapping, so
 * masking can replace spans from the end without offsets shifting.
 */
export class CompositePiiDetector implements PiiDetector {
  readonly name: string;

  constructor(private readonly detectors: readonly PiiDetector[]) {
    this.name = detectors.map((d) => d.name).join('+');
  }

  /** Spans of every detector, overlaps resolved. */
  detect(text: string): PiiSpan[] {
    return resolveOverlaps(this.detectors.flatMap((detector) => detector.detect(text)));
  }
}

/** Keeps the best of each group of overlapping spans (score, then length, then earliest). */
export function resolveOverlaps(spans: readonly PiiSpan[]): PiiSpan[] {
  const ranked = [...spans]
    .filter((s) => s.end > s.start)
    .sort((a, b) => b.score - a.score || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept: PiiSpan[] = [];
  for (const span of ranked) {
    if (!kept.some((k) => k.start < span.end && span.start < k.end)) kept.push(span);
  }
  return kept.sort((a, b) => a.start - b.start);
}
