import { codePointBoundary } from '@llmbus/contracts';
import { Parser } from 'htmlparser2';
import { collapseWhitespace, DocumentBlock, SectionTracker } from './document-block';

/** Elements whose content is never document text (code, styling, metadata, embedded objects). */
const SKIPPED = new Set([
  'script',
  'style',
  'noscript',
  'template',
  'head',
  'title',
  'svg',
  'math',
  'iframe',
  'object',
  'embed',
  'canvas',
  'video',
  'audio',
  'select',
  'textarea',
  'button',
]);

/** Elements that end the paragraph before them and start a new one. */
const BLOCK = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'caption',
  'dd',
  'details',
  'dialog',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'hr',
  'html',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'tr',
  'ul',
]);

const HEADING = /^h([1-6])$/;
const SLICE_CHARS = 64 * 1024;

/**
 * Blocks of an HTML document, tags stripped and entities decoded: `h1`-`h6` start sections,
 * block elements end paragraphs, script/style and other non-text elements are dropped whole.
 * The input is parsed in slices, so blocks come out while parsing goes on. A document of headings
 * only yields its headings as text.
 */
export function* htmlBlocks(content: string): Generator<DocumentBlock> {
  const sections = new SectionTracker();
  const ready: DocumentBlock[] = [];
  let lines: string[] = [''];
  let skipDepth = 0;
  let preDepth = 0;
  let heading: { level: number; text: string } | undefined;

  const flush = () => {
    const joined = lines.map(collapseWhitespace).filter(Boolean).join('\n');
    lines = [''];
    if (joined) ready.push(sections.block(joined));
  };
  const flushPre = (raw: string) => {
    const code = raw.replace(/^\n+/, '').trimEnd();
    if (code) ready.push(sections.block(code, 'code'));
  };
  let pre = '';

  const parser = new Parser(
    {
      onopentag(name) {
        if (skipDepth > 0 || SKIPPED.has(name)) {
          if (SKIPPED.has(name)) skipDepth++;
          return;
        }
        const level = HEADING.exec(name);
        if (level) {
          flush();
          heading = { level: Number(level[1]), text: '' };
        } else if (name === 'pre') {
          flush();
          preDepth++;
        } else if (name === 'br') {
          if (heading) heading.text += ' ';
          else if (preDepth > 0) pre += '\n';
          else lines.push('');
        } else if (BLOCK.has(name) && preDepth === 0) {
          flush();
        }
      },
      ontext(text) {
        if (skipDepth > 0) return;
        if (heading) heading.text += text;
        else if (preDepth > 0) pre += text;
        else lines[lines.length - 1] += text;
      },
      onclosetag(name) {
        if (SKIPPED.has(name)) {
          if (skipDepth > 0) skipDepth--;
          return;
        }
        if (skipDepth > 0) return;
        const level = HEADING.exec(name);
        if (level && heading) {
          sections.enter(heading.level, heading.text);
          heading = undefined;
        } else if (name === 'pre' && preDepth > 0) {
          preDepth--;
          if (preDepth === 0) {
            flushPre(pre);
            pre = '';
          }
        } else if (BLOCK.has(name) && preDepth === 0) {
          flush();
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );

  for (let start = 0; start < content.length;) {
    // Slices end on code-point boundaries, so no text event carries half of a surrogate pair.
    const end = codePointBoundary(content, start + SLICE_CHARS);
    parser.write(content.slice(start, end));
    start = end;
    yield* ready.splice(0);
  }
  parser.end();
  if (heading) sections.enter(heading.level, heading.text);
  if (pre) flushPre(pre);
  flush();
  yield* ready.splice(0);
  const headings = sections.headingsOnly();
  if (headings) yield headings;
}
