/**
 * The platform's rules for text it stores or publishes, in one place.
 *
 * PostgreSQL (the audit store) cannot hold U+0000: `text` refuses the byte (SQLSTATE 22021) and
 * `jsonb` refuses the `\u0000` escape (22P05). JavaScript strings are UTF-16, so they can also hold
 * a lone surrogate (half of a pair, e.g. an emoji cut by a fixed-length `slice`); JSON.stringify
 * writes it as a `\udXXX` escape that `jsonb` refuses (22P02), and UTF-8 encoders silently turn it
 * into U+FFFD. Sources: PostgreSQL manual, "JSON Types" (8.14) and "Character Set Support";
 * ECMA-262 well-formed JSON.stringify (ES2019); Unicode 15, 3.9 (a lone surrogate is ill-formed).
 */

/** Why a string cannot be stored. */
export type UnstorableTextKind = 'nul' | 'lone_surrogate';

/** One string (or object key) of a value that cannot be stored, and why. */
export interface UnstorableText {
  /** JSON path of the string, e.g. `input.subject`, `input.tags[2]`, `input["a b"]`. */
  readonly path: string;
  readonly kind: UnstorableTextKind;
  /** True when the object key at `path` is the problem rather than the value under it. */
  readonly inKey: boolean;
  /** What is wrong, where and what to do, without quoting the text itself. */
  readonly problem: string;
}

export interface FindUnstorableTextOptions {
  /** Path of `value` itself, prefixed to every reported path (empty: paths start at its keys). */
  readonly root?: string;
  /** Stop after this many findings (default 20); one string yields at most one per kind. */
  readonly limit?: number;
}

const REPLACEMENT = '\uFFFD';
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function isHigh(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLow(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** True when PostgreSQL can store the string as `text` and inside `jsonb`. */
export function isStorableText(text: string): boolean {
  return text.isWellFormed() && !text.includes('\0');
}

/**
 * The string with every U+0000 and every lone surrogate replaced by U+FFFD (the Unicode
 * replacement character); the same string when it is already storable. Length is unchanged.
 */
export function toStorableText(text: string): string {
  return isStorableText(text) ? text : text.toWellFormed().replaceAll('\0', REPLACEMENT);
}

/**
 * A JSON value (what JSON.parse returns) with every string and object key made storable by
 * toStorableText, recursively. Two keys that differ only in replaced characters collapse into
 * one (the later wins). Non-JSON objects are not expected: stringify and parse them first.
 */
export function toStorableValue<T>(value: T): T {
  return storable(value) as T;
}

function storable(value: unknown): unknown {
  if (typeof value === 'string') return toStorableText(value);
  if (Array.isArray(value)) return value.map(storable);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[toStorableText(key)] = storable(inner);
    return out;
  }
  return value;
}

/**
 * The largest cut position at or before `index` (in UTF-16 code units) that does not fall between
 * the two halves of a surrogate pair; clamped to 0..text.length.
 */
export function codePointBoundary(text: string, index: number): number {
  if (Number.isNaN(index)) throw new RangeError('codePointBoundary: index must be a number');
  const at = Math.min(Math.max(0, Math.floor(index)), text.length);
  return at > 0 && at < text.length && isHigh(text.charCodeAt(at - 1)) && isLow(text.charCodeAt(at))
    ? at - 1
    : at;
}

/**
 * The longest prefix of `text` of at most `maxCodeUnits` UTF-16 code units that never ends in the
 * middle of a surrogate pair (so it may be one unit shorter than asked). Every cut of text that is
 * stored or published goes through here, never through a bare `slice(0, n)`.
 * @throws RangeError when maxCodeUnits is NaN.
 */
export function truncateText(text: string, maxCodeUnits: number): string {
  if (Number.isNaN(maxCodeUnits)) throw new RangeError('truncateText: maxCodeUnits must be a number');
  if (text.length <= maxCodeUnits) return text;
  return text.slice(0, codePointBoundary(text, maxCodeUnits));
}

interface Scan {
  nul?: { first: number; count: number };
  lone?: { first: number; count: number; unit: number };
}

function scan(text: string): Scan {
  const result: Scan = {};
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit === 0) {
      result.nul = result.nul ? { ...result.nul, count: result.nul.count + 1 } : { first: i, count: 1 };
    } else if (isHigh(unit) && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      i++;
    } else if (isHigh(unit) || isLow(unit)) {
      result.lone = result.lone
        ? { ...result.lone, count: result.lone.count + 1 }
        : { first: i, count: 1, unit };
    }
  }
  return result;
}

function hex(unit: number): string {
  return unit.toString(16).toUpperCase().padStart(4, '0');
}

function describe(found: Scan, inKey: boolean): Array<{ kind: UnstorableTextKind; problem: string }> {
  const subject = inKey ? 'the key contains' : 'contains';
  const out: Array<{ kind: UnstorableTextKind; problem: string }> = [];
  if (found.nul) {
    const { first, count } = found.nul;
    out.push({
      kind: 'nul',
      problem:
        `${subject} U+0000 (NUL) at UTF-16 index ${first}${count > 1 ? ` (${count} in all)` : ''}, ` +
        'which cannot be stored; remove it (send binary data base64-encoded)',
    });
  }
  if (found.lone) {
    const { first, count, unit } = found.lone;
    const half = isHigh(unit) ? 'high surrogate without its low half' : 'low surrogate without its high half';
    out.push({
      kind: 'lone_surrogate',
      problem:
        `${subject} a lone ${half} (U+${hex(unit)}) at UTF-16 index ${first}` +
        `${count > 1 ? ` (${count} in all)` : ''}, which is not a character (often text cut in the ` +
        'middle of an emoji); send well-formed Unicode text',
    });
  }
  return out;
}

function keyPath(parent: string, key: string): string {
  // JSON.stringify escapes NUL and lone surrogates, so a path never carries the text it reports.
  if (IDENTIFIER.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

/**
 * Every string and object key in `value` (a JSON-like value: strings, arrays, objects) that
 * PostgreSQL cannot store: U+0000 or a lone UTF-16 surrogate. Walks iteratively, so deep nesting
 * does not overflow the stack. Returns an empty array when everything is storable.
 */
export function findUnstorableText(
  value: unknown,
  options: FindUnstorableTextOptions = {},
): UnstorableText[] {
  const limit = options.limit ?? 20;
  const found: UnstorableText[] = [];
  const report = (path: string, text: string, inKey: boolean) => {
    if (isStorableText(text)) return;
    for (const { kind, problem } of describe(scan(text), inKey)) {
      if (found.length < limit) found.push({ path: path || '$', kind, inKey, problem });
    }
  };
  const stack: Array<{ value: unknown; path: string }> = [{ value, path: options.root ?? '' }];
  while (stack.length > 0 && found.length < limit) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      report(path, current, false);
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], path: `${path}[${i}]` });
    } else if (typeof current === 'object' && current !== null) {
      const entries = Object.entries(current).map(([key, inner]) => {
        const innerPath = keyPath(path, key);
        report(innerPath, key, true);
        return { value: inner, path: innerPath };
      });
      for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]);
    }
  }
  return found;
}

/** Findings as `path: problem` lines, the form validation errors take everywhere else. */
export function describeUnstorableText(found: readonly UnstorableText[]): string[] {
  return found.map((f) => `${f.path}: ${f.problem}`);
}
