import { LRUCache } from 'lru-cache';
import type { PiiDetector, PiiSpan } from './pii-detector';
import { forEachLine } from './text-lines';

/**
 * Where a text is cut into independently scanned segments: a blank line, a line that is one
 * markup tag (`<passage id="…">`, `</request>`), or, in a prompt recorded as the JSON of its
 * messages, the start of a message whose content opens with a tag (`…"},{"role":"user","content":"<request>`,
 * the line after the system text). Entities (names, addresses, numbers) do not run across any of
 * these, so scanning each segment alone finds what scanning the whole text finds. A tag ending a
 * line elsewhere (`SSN:<br>`, in an HTML ticket) is no boundary: a cue before it belongs to what follows.
 */
const BOUNDARY_LINE = /^[ \t]*(?:<\/?[A-Za-z][^<>\n]*>)?[ \t]*$/;
/** A tag that opens a JSON-recorded message's content and ends its line; the text before it stays in the run. */
const TRAILING_TAG = /(?<="content":")<\/?[A-Za-z][^<>\n]*>[ \t]*$/;

/**
 * A detector that remembers its answers per segment of text (paragraphs and markup-tag lines;
 * least recently used first out, bounded by the characters cached). A prompt repeats its system
 * text and its retrieved passages from request to request, and the auditor stores every event of
 * a request with its input and passages: only the segments not seen before are scanned.
 */
export class CachedPiiDetector implements PiiDetector {
  readonly name: string;
  private readonly cache: LRUCache<string, PiiSpan[]>;

  /** `maxChars`: the characters of text kept as cache keys, 4 million by default (about 8 MB). */
  constructor(
    private readonly detector: PiiDetector,
    private readonly maxChars = 4_000_000,
  ) {
    this.name = detector.name;
    this.cache = new LRUCache({
      maxSize: maxChars,
      sizeCalculation: (_spans, text) => Math.max(1, text.length),
    });
  }

  /** The inner detector's spans, segment by segment, from the cache for segments seen before. */
  detect(text: string): PiiSpan[] {
    const spans: PiiSpan[] = [];
    for (const { start, end } of segmentsOf(text)) {
      const segment = text.slice(start, end);
      for (const span of this.detectSegment(segment)) {
        spans.push(start === 0 ? span : { ...span, start: span.start + start, end: span.end + start });
      }
    }
    return spans;
  }

  private detectSegment(segment: string): PiiSpan[] {
    let spans = this.cache.get(segment);
    if (spans === undefined) {
      spans = this.detector.detect(segment);
      if (segment.length <= this.maxChars) this.cache.set(segment, spans);
    }
    return spans;
  }
}

/**
 * The segments of `text` as [start, end) code-unit ranges: runs of lines between boundary lines,
 * and each non-blank boundary line (a tag line may carry an attribute worth scanning) on its own;
 * a tag opening a JSON-recorded message at the end of a line ends its run and is a segment of its own too.
 * Blank lines belong to no segment. Lines end at a line feed or at an escaped one (`\n`).
 */
export function segmentsOf(text: string): { start: number; end: number }[] {
  const segments: { start: number; end: number }[] = [];
  let runStart = -1;
  let runEnd = -1;
  forEachLine(text, (lineStart, lineEnd) => {
    const line = text.slice(lineStart, lineEnd);
    if (BOUNDARY_LINE.test(line)) {
      if (runStart !== -1) segments.push({ start: runStart, end: runEnd });
      runStart = -1;
      if (line.trim().length > 0) segments.push({ start: lineStart, end: lineEnd });
      return;
    }
    const tag = TRAILING_TAG.exec(line);
    if (runStart === -1) runStart = lineStart;
    runEnd = tag === null ? lineEnd : lineStart + tag.index;
    if (tag === null) return;
    // The text before the tag ends the run; the tag is a segment of its own, like a tag line.
    if (runEnd > runStart && text.slice(runStart, runEnd).trim().length > 0) {
      segments.push({ start: runStart, end: runEnd });
    }
    segments.push({ start: lineStart + tag.index, end: lineEnd });
    runStart = -1;
  });
  if (runStart !== -1) segments.push({ start: runStart, end: runEnd });
  return segments;
}
