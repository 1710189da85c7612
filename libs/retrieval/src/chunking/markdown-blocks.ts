import { DocumentBlock, linesOf, SectionTracker } from './document-block';

const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]|$)/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;
const THEMATIC_BREAK = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;

/**
 * Blocks of a Markdown document: ATX and setext headings start sections; fenced code stays whole. A
 * document of headings only yields its headings as text.
 */
export function* markdownBlocks(content: string): Generator<DocumentBlock> {
  const sections = new SectionTracker();
  let paragraph: string[] = [];
  let fence: { marker: string; lines: string[] } | undefined;

  function* flush(): Generator<DocumentBlock> {
    const text = paragraph.join('\n').trim();
    paragraph = [];
    if (text) yield sections.block(text);
  }

  for (const line of linesOf(content)) {
    if (fence) {
      const close = FENCE.exec(line);
      if (
        close &&
        close[1][0] === fence.marker[0] &&
        close[1].length >= fence.marker.length &&
        line.trim() === close[1]
      ) {
        const code = fence.lines.join('\n');
        if (code.trim()) yield sections.block(code, 'code');
        fence = undefined;
      } else {
        fence.lines.push(line);
      }
      continue;
    }
    const open = FENCE.exec(line);
    if (open) {
      yield* flush();
      fence = { marker: open[1], lines: [] };
      continue;
    }
    const atx = ATX_HEADING.exec(line);
    if (atx) {
      yield* flush();
      sections.enter(atx[1].length, stripClosingHashes(line.slice(atx[0].length)));
      continue;
    }
    const underline = SETEXT_UNDERLINE.exec(line);
    if (underline && paragraph.length > 0) {
      // CommonMark: the whole paragraph above the underline is the heading.
      const title = paragraph.join(' ');
      paragraph = [];
      sections.enter(underline[1][0] === '=' ? 1 : 2, title);
      continue;
    }
    if (!line.trim() || THEMATIC_BREAK.test(line)) {
      yield* flush();
      continue;
    }
    paragraph.push(line);
  }
  if (fence) {
    // An unclosed fence runs to the end of the document, as CommonMark says.
    const code = fence.lines.join('\n');
    if (code.trim()) yield sections.block(code, 'code');
  }
  yield* flush();
  const headings = sections.headingsOnly();
  if (headings) yield headings;
}

/** Blocks of plain text: paragraphs separated by blank lines, no sections. */
export function* plainTextBlocks(content: string): Generator<DocumentBlock> {
  const sections = new SectionTracker();
  let paragraph: string[] = [];
  for (const line of linesOf(content)) {
    if (line.trim()) {
      paragraph.push(line);
      continue;
    }
    const text = paragraph.join('\n').trim();
    paragraph = [];
    if (text) yield sections.block(text);
  }
  const text = paragraph.join('\n').trim();
  if (text) yield sections.block(text);
}

function stripClosingHashes(title: string): string {
  let end = title.length;
  while (end > 0 && /\s/.test(title[end - 1])) end--;
  let hashes = end;
  while (hashes > 0 && title[hashes - 1] === '#') hashes--;
  // `## Title ##`: the closing run counts only when a space precedes it (or it is all there is).
  if (hashes < end && (hashes === 0 || /\s/.test(title[hashes - 1]))) end = hashes;
  return title.slice(0, end).trim();
}
