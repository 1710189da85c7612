import nlp from 'compromise';
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
// Installs compromise's narrowed rule lookup (same tags, less CPU) before any line is tagged.
import { narrowedBulkMatch } from './compromise-sweep';
import {
  attestedSpansOf,
  hasAttestedLines,
  inAttestationScope,
  noteTaggedLine,
  type AttestedDetector,
} from './pii-attestation';
import { spanOf, type PiiDetector, type PiiSpan } from './pii-detector';
import { forEachLine } from './text-lines';

interface CompromiseMatch {
  readonly text: string;
  readonly offset: { readonly start: number; readonly length: number };
}

/**
 * A whole word of letters (apostrophes and hyphens allowed) that starts with a capital and a small
 * letter: every name has one. Base64 text (a sealed PII vault, a token) mostly has none, its
 * capitals sitting inside runs of letters and digits; tagging such a string found nothing and cost
 * about a millisecond, several times per audited request.
 */
const CAPITALISED_WORD = /(?<![\p{L}\p{N}])\p{Lu}\p{Ll}[\p{L}'’-]*(?![\p{L}\p{N}])/u;
/** A capitalised word of two letters or more: compromise also tags fragments such as "LT-". */
const PERSON_SHAPE = /^\p{Lu}.*\p{Ll}/u;
/** Company suffixes: "Grant Holdings LLC" reads like a surname pair. */
const ORGANISATION_AFTER = /^,? (?:LLC|Ltd|Inc|GmbH|AG|SE|plc|B\.V)\b/;
const TRAILING = /[\s.,;:!?'")\]]+$/;

/**
 * Person names by compromise, a rule-and-lexicon NLP library that runs in process with no model
 * download: it tags first names, surnames and honorifics and groups them into people.
 *
 * Each line is tagged on its own and its answer kept (least recently used out, bounded by the
 * characters kept): a request's text reaches a stage inside several wrappings (the classifier's
 * text, the retrieval query, the prompt's request block, every audited event), and tagging, at
 * about a millisecond per 100 characters, was the largest CPU cost per request of four stages.
 * A name does not run across a line break in the texts we see (`npm run eval:pii` checks), nor
 * across an escaped one inside a JSON string.
 */
export class CompromisePersonDetector implements PiiDetector {
  readonly name = 'compromise';
  private readonly lines: LRUCache<string, readonly LineSpan[]>;
  /** Lines tagged lately, long enough to be the parts of longer lines (see carriedSpans). */
  private readonly recentLines: string[] = [];

  /** `maxCachedChars`: the characters of lines kept with their answers (default 1 million, about 2 MB). */
  constructor(maxCachedChars = 1_000_000) {
    this.lines = new LRUCache({
      maxSize: maxCachedChars,
      sizeCalculation: (_spans, line) => Math.max(1, line.length),
    });
  }

  /**
   * The process's one shared detector: every detector `createPiiDetector` builds (the masking of
   * each stage, the log scrubber, the draft stream, the classifier's and verifier's models) uses
   * it, so a line seen by one of them is not tagged again by another. Its answers depend on the
   * line alone.
   */
  static processWide(): CompromisePersonDetector {
    processWideDetector ??= new CompromisePersonDetector(2_000_000);
    return processWideDetector;
  }

  /** PERSON spans, trailing punctuation trimmed. */
  detect(text: string): PiiSpan[] {
    const spans: PiiSpan[] = [];
    forEachLine(text, (lineStart, lineEnd) => this.addLine(text, lineStart, lineEnd, spans));
    return spans;
  }

  private addLine(text: string, lineStart: number, lineEnd: number, spans: PiiSpan[]): void {
    for (const { start, end } of this.lineSpans(text.slice(lineStart, lineEnd))) {
      spans.push(spanOf(text, 'PERSON', lineStart + start, lineStart + end, 0.6));
    }
  }

  private lineSpans(line: string): readonly LineSpan[] {
    // Without a capitalised word there is no name to find.
    if (!CAPITALISED_WORD.test(line)) return [];
    let spans = this.lines.get(line);
    if (spans === undefined) {
      // A verified attestation of the event being handled (another stage tagged this line).
      spans = attestedSpansOf(line, COMPROMISE_DETECTOR);
      if (spans === undefined) {
        spans = this.carriedSpans(line) ?? tagPeople(line);
        noteTaggedLine(line, spans, COMPROMISE_DETECTOR);
      }
      this.lines.set(line, spans);
      if (line.length >= MIN_PART_CHARS) {
        this.recentLines.push(line);
        if (this.recentLines.length > RECENT_LINES) this.recentLines.shift();
      }
    }
    return spans;
  }

  /**
   * The spans of a line that carries a line tagged a moment ago (a request's text inside the
   * classifier's text or the retrieval query: `{{input.subject}} {{input.body}}`): that line's
   * answer, and the text around it tagged on its own. Undefined when the line carries none, or
   * only where a name could run across the seam (a capitalised word on both sides of it).
   */
  private carriedSpans(line: string): LineSpan[] | undefined {
    for (let i = this.recentLines.length - 1; i >= 0; i--) {
      const part = this.recentLines[i];
      if (part.length >= line.length) continue;
      const at = line.indexOf(part);
      const end = at + part.length;
      if (at === -1 || !isSeam(line, at) || !isSeam(line, end)) continue;
      const known = this.lines.get(part);
      if (known === undefined) continue;
      return this.aroundPart(line, at, end, known);
    }
    const attested = attestedPartOf(line);
    return attested && this.aroundPart(line, attested.at, attested.end, attested.spans);
  }

  /** The spans of `line` given those of its part [at, end): the text on each side tagged alone. */
  private aroundPart(line: string, at: number, end: number, known: readonly LineSpan[]): LineSpan[] {
    return [
      ...this.partSpans(line.slice(0, at), 0),
      ...known.map((span) => ({ start: span.start + at, end: span.end + at })),
      ...this.partSpans(line.slice(end), end),
    ];
  }

  /** The spans of a side of a seam, tagged (or looked up) without its white space at either end. */
  private partSpans(text: string, offset: number): LineSpan[] {
    const from = offset + text.length - text.trimStart().length;
    return this.lineSpans(text.trim()).map((span) => ({ start: span.start + from, end: span.end + from }));
  }
}

/** Lines of at least this many characters are remembered as parts a longer line may carry. */
const MIN_PART_CHARS = 24;
/** How many such lines are remembered (the most recent ones): a request's lines arrive together. */
const RECENT_LINES = 64;
const CAPITALISED_AT_START = /^\p{Lu}/u;
const CAPITALISED_AT_END = /(?:^|\s)\p{Lu}\S*$/u;

/**
 * Whether `line` may be cut at `at` and each side tagged alone: at its start or end, or at a
 * run of white space not between two capitalised words (where a name could continue).
 */
function isSeam(line: string, at: number): boolean {
  if (at === 0 || at === line.length) return true;
  const before = line.slice(0, at);
  const after = line.slice(at);
  const beforeSpace = /\s$/.test(before);
  const afterSpace = /^\s/.test(after);
  if (!beforeSpace && !afterSpace) return false;
  return !(CAPITALISED_AT_END.test(before.trimEnd()) && CAPITALISED_AT_START.test(after.trimStart()));
}

/**
 * The longest part of `line` that begins or ends it, is cut at a seam, and whose answer a verified
 * attestation of the event being handled carries (a request's text that another stage tagged on
 * its own, inside this stage's retrieval query); undefined when none (or outside a scope).
 */
function attestedPartOf(line: string): { at: number; end: number; spans: readonly LineSpan[] } | undefined {
  if (!hasAttestedLines(COMPROMISE_DETECTOR)) return undefined;
  const starts: number[] = [];
  const ends: number[] = [];
  for (const gap of line.matchAll(/\s+/g)) {
    if (gap.index > 0) ends.push(gap.index);
    if (gap.index + gap[0].length < line.length) starts.push(gap.index + gap[0].length);
  }
  // Longest first: suffixes from the earliest start, prefixes from the latest end.
  for (const at of starts) {
    if (line.length - at < MIN_PART_CHARS) break;
    if (!isSeam(line, at)) continue;
    const spans = attestedSpansOf(line.slice(at), COMPROMISE_DETECTOR);
    if (spans !== undefined) return { at, end: line.length, spans };
  }
  for (const end of ends.reverse()) {
    if (end < MIN_PART_CHARS) break;
    if (!isSeam(line, end)) continue;
    const spans = attestedSpansOf(line.slice(0, end), COMPROMISE_DETECTOR);
    if (spans !== undefined) return { at: 0, end, spans };
  }
  return undefined;
}

/**
 * Tags the lines of each text with the process's detector when the event being handled has an
 * attestation scope (PiiAttestations), so they are attested as themselves: a stage that first sees
 * a request's fields only inside a longer text (the classifier's `subject body`) tags the fields
 * first, and the stages after it, which see the fields on their own lines (the prompt, the audit
 * record), reuse the answers. The longer text is then answered from these parts. No-op outside a scope.
 */
export function tagForAttestation(texts: Iterable<string>): void {
  if (!inAttestationScope(COMPROMISE_DETECTOR)) return;
  const detector = CompromisePersonDetector.processWide();
  for (const text of texts) detector.detect(text);
}

let processWideDetector: CompromisePersonDetector | undefined;
/** Lines tagged by compromise in this process (see compromiseTagCalls). */
let tagCalls = 0;

/** How many lines compromise has tagged in this process: what attestations and caches save. */
export function compromiseTagCalls(): number {
  return tagCalls;
}

/**
 * The configuration whose answers PII attestations carry: the compromise version and the source
 * of every rule that turns its tags into spans, so a stage running other rules never reuses them.
 */
export const COMPROMISE_DETECTOR: AttestedDetector = {
  name: 'compromise',
  fingerprint: createHash('sha256')
    .update(
      [
        nlp.version,
        narrowedBulkMatch.toString(),
        CAPITALISED_WORD.source,
        PERSON_SHAPE.source,
        ORGANISATION_AFTER.source,
        TRAILING.source,
        CAPITALISED_AT_START.source,
        CAPITALISED_AT_END.source,
        String(MIN_PART_CHARS),
        String(RECENT_LINES),
        tagPeople.toString(),
        isSeam.toString(),
        CompromisePersonDetector.prototype['carriedSpans'].toString(),
        CompromisePersonDetector.prototype['partSpans'].toString(),
        CompromisePersonDetector.prototype['aroundPart'].toString(),
        attestedPartOf.toString(),
      ].join('\n'),
    )
    .digest('base64url')
    .slice(0, 22),
};

interface LineSpan {
  readonly start: number;
  readonly end: number;
}

/** Person names tagged in one line (the costly call: compromise parses and tags the whole line). */
function tagPeople(text: string): LineSpan[] {
  tagCalls += 1;
  const matches = nlp(text).people().json({ offset: true }) as CompromiseMatch[];
  const spans: LineSpan[] = [];
  for (const match of matches) {
    const start = match.offset.start;
    const raw = text.slice(start, start + match.offset.length);
    const end = start + raw.replace(TRAILING, '').length;
    const name = text.slice(start, end);
    if (PERSON_SHAPE.test(name) && !ORGANISATION_AFTER.test(text.slice(end, end + 8)))
      spans.push({ start, end });
  }
  return spans;
}
