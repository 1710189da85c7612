/** A paragraph-like unit of a document, with the headings it sits under. */
export interface DocumentBlock {
  /** Headings from the outermost to the innermost; empty before the first heading. */
  readonly sectionPath: readonly string[];
  /** Increments at every heading, so two sections with the same path stay apart. */
  readonly sectionIndex: number;
  readonly text: string;
  /** Code and preformatted text split at lines, prose at sentences. */
  readonly kind: 'prose' | 'code';
}

/** Keeps the heading stack: a heading of level n replaces every heading of level ≥ n. */
export class SectionTracker {
  private stack: { level: number; title: string }[] = [];
  private index = 0;
  /** The non-empty headings entered before the first block, in document order. */
  private readonly headings: string[] = [];
  private blocks = 0;

  /** Starts a new section under a heading of the given level (1 = outermost). */
  enter(level: number, title: string): void {
    const clean = collapseWhitespace(title);
    this.stack = this.stack.filter((h) => h.level < level);
    if (clean) {
      this.stack.push({ level, title: clean });
      // Kept only while no block came: only a document of headings only needs them.
      if (this.blocks === 0) this.headings.push(clean);
    }
    this.index++;
  }

  /** A block of the current section. */
  block(text: string, kind: DocumentBlock['kind'] = 'prose'): DocumentBlock {
    this.blocks++;
    return { sectionPath: this.stack.map((h) => h.title), sectionIndex: this.index, text, kind };
  }

  /**
   * For a document made only of headings (a one-line note written as a heading): its headings as one
   * block of text, one per line, so the note is indexed like any text. Undefined when the document
   * has a block of its own or no heading.
   */
  headingsOnly(): DocumentBlock | undefined {
    if (this.blocks > 0 || this.headings.length === 0) return undefined;
    return { sectionPath: [], sectionIndex: 0, text: this.headings.join('\n'), kind: 'prose' };
  }
}

/** Collapses runs of whitespace to one space and trims. */
export function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The lines of a text, lazily, without splitting it into an array first. */
export function* linesOf(text: string): Generator<string> {
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    yield line.endsWith('\r') ? line.slice(0, -1) : line;
    start = end + 1;
  }
}
