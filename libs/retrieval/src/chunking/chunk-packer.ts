import { codePointBoundary } from '@llmbus/contracts';
import type { DocumentBlock } from './document-block';
import type { TokenCounter } from './token-counter';

export interface PackingOptions {
  /** Upper bound on every chunk's tokens, as `countTokens` counts them. */
  readonly maxTokens: number;
  /** Tokens repeated from the end of a chunk at the start of the next one in the same section. */
  readonly overlapTokens: number;
  readonly countTokens: TokenCounter;
}

export interface PackedChunk {
  readonly sectionPath: readonly string[];
  readonly text: string;
  readonly tokenCount: number;
}

/** The smallest piece the packer moves around: a paragraph, or a sentence, line or word of a long one. */
interface Unit {
  readonly text: string;
  /** Placed before the unit when it follows another one in a chunk. */
  readonly joiner: string;
}

const sentences = new Intl.Segmenter('en', { granularity: 'sentence' });

/**
 * Packs blocks into chunks of at most `maxTokens`. A new section always starts a new chunk;
 * within a section, consecutive chunks share up to `overlapTokens` of trailing units.
 */
export function* packChunks(
  blocks: Iterable<DocumentBlock>,
  options: PackingOptions,
): Generator<PackedChunk> {
  const { maxTokens, countTokens } = options;
  let current: Unit[] = [];
  let fresh = 0; // units in `current` not carried over as overlap
  let section: { index: number; path: readonly string[] } | undefined;

  const emit = (): PackedChunk => {
    const text = joinUnits(current);
    return { sectionPath: section?.path ?? [], text, tokenCount: countTokens(text) };
  };

  for (const block of blocks) {
    if (section?.index !== block.sectionIndex) {
      if (fresh > 0) yield emit();
      current = [];
      fresh = 0;
      section = { index: block.sectionIndex, path: block.sectionPath };
    }
    for (const unit of unitsOf(block, options)) {
      if (current.length > 0 && countTokens(joinUnits([...current, unit])) > maxTokens) {
        if (fresh > 0) yield emit();
        current = overlapTail(current, unit, options);
        fresh = 0;
      }
      current.push(unit);
      fresh++;
    }
  }
  if (fresh > 0) yield emit();
}

function joinUnits(units: readonly Unit[]): string {
  return units.map((u, i) => (i === 0 ? u.text : u.joiner + u.text)).join('');
}

/** The longest run of trailing units within the overlap budget that still leaves room for `next`. */
function overlapTail(units: readonly Unit[], next: Unit, options: PackingOptions): Unit[] {
  const tail: Unit[] = [];
  for (let i = units.length - 1; i >= 0; i--) {
    const candidate = [units[i], ...tail];
    if (options.countTokens(joinUnits(candidate)) > options.overlapTokens) break;
    if (options.countTokens(joinUnits([...candidate, next])) > options.maxTokens) break;
    tail.unshift(units[i]);
  }
  return tail;
}

/** A block as units that each fit the budget: whole if it fits, else sentences (lines for code), words, characters. */
function* unitsOf(block: DocumentBlock, options: PackingOptions): Generator<Unit> {
  if (options.countTokens(block.text) <= options.maxTokens) {
    yield { text: block.text, joiner: '\n\n' };
    return;
  }
  let first = true;
  const pieces = block.kind === 'code' ? block.text.split('\n') : sentencesOf(block.text);
  const pieceJoiner = block.kind === 'code' ? '\n' : ' ';
  for (const piece of pieces) {
    for (const unit of fitPiece(piece, pieceJoiner, options)) {
      yield first ? { text: unit.text, joiner: '\n\n' } : unit;
      first = false;
    }
  }
}

function* sentencesOf(text: string): Generator<string> {
  for (const { segment } of sentences.segment(text)) {
    const sentence = segment.trim();
    if (sentence) yield sentence;
  }
}

function* fitPiece(piece: string, joiner: string, options: PackingOptions): Generator<Unit> {
  if (options.countTokens(piece) <= options.maxTokens) {
    yield { text: piece, joiner };
    return;
  }
  let firstWord = true;
  for (const word of piece.split(/\s+/)) {
    if (!word) continue;
    const wordJoiner = firstWord ? joiner : ' ';
    firstWord = false;
    if (options.countTokens(word) <= options.maxTokens) {
      yield { text: word, joiner: wordJoiner };
      continue;
    }
    let firstSlice = true;
    for (const slice of sliceToFit(word, options)) {
      yield { text: slice, joiner: firstSlice ? wordJoiner : '' };
      firstSlice = false;
    }
  }
}

/** Cuts a string with no spaces (a URL, base64) into slices that each fit the budget. */
function* sliceToFit(word: string, options: PackingOptions): Generator<string> {
  let rest = word;
  while (rest) {
    const tokens = options.countTokens(rest);
    let length =
      tokens <= options.maxTokens
        ? rest.length
        : Math.max(1, Math.floor((rest.length * options.maxTokens) / tokens));
    while (length > 1 && options.countTokens(rest.slice(0, length)) > options.maxTokens) {
      length = Math.max(1, Math.floor(length * 0.9));
    }
    // Keep surrogate pairs whole; a slice is at least one code point, so the loop always advances.
    length = codePointBoundary(rest, length) || codePointBoundary(rest, 2);
    yield rest.slice(0, length);
    rest = rest.slice(length);
  }
}
