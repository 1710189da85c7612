import { spanOf, type PiiDetector, type PiiEntityType, type PiiSpan } from '../pii-detector';

/** One candidate found by a pattern: where the entity is inside the match (group `value` when present). */
export interface PatternRule {
  readonly type: PiiEntityType;
  /** Must have the `g` flag; a named group `value` narrows the span to that group. */
  readonly pattern: RegExp;
  readonly score: number;
  /** Rejects candidates that fail a checksum or shape test; `value` is the span text. */
  readonly accept?: (value: string, text: string, start: number) => boolean;
}

/** A detector made of regular-expression rules, each confirmed by its own check. */
export class PatternRecogniser implements PiiDetector {
  constructor(
    readonly name: string,
    private readonly rules: readonly PatternRule[],
  ) {}

  /** Spans of every accepted candidate (may overlap; the composite resolves overlaps). */
  detect(text: string): PiiSpan[] {
    const spans: PiiSpan[] = [];
    for (const rule of this.rules) {
      for (const match of text.matchAll(rule.pattern)) {
        const value = match.groups?.['value'] ?? match[0];
        const offset = match.groups?.['value'] === undefined ? 0 : match[0].indexOf(value);
        const start = (match.index ?? 0) + offset;
        if (value.length > 0 && (rule.accept?.(value, text, start) ?? true)) {
          spans.push(spanOf(text, rule.type, start, start + value.length, rule.score));
        }
      }
    }
    return spans;
  }
}

/** True when any of `words` (lower case) occurs within `window` characters before `start`. */
export function precededBy(text: string, start: number, words: RegExp, window = 40): boolean {
  return words.test(text.slice(Math.max(0, start - window), start).toLowerCase());
}
