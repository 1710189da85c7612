import { chunkContentHash, chunkDocument, chunkId, ChunkSource, documentBlocks } from './chunker';
import { estimateTokens } from './token-counter';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function source(
  contentType: ChunkSource['contentType'],
  content: string,
  extra: Partial<ChunkSource> = {},
): ChunkSource {
  return { tenant: 't1', documentId: 'doc-1', version: 1, contentType, content, ...extra };
}

function words(n: number, prefix = 'w'): string {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`).join(' ');
}

describe('documentBlocks (markdown)', () => {
  it('gives each paragraph the path of headings above it; a heading replaces those of its level and deeper', () => {
    const md = [
      '# Handbook',
      'Welcome.',
      '## Leave',
      'Annual leave is 25 days.',
      '',
      'Ask your manager.',
      '### Sick leave ###',
      'Call in before 9.',
      '## Expenses',
      'Keep receipts.',
      '***',
      'Setext',
      'title',
      '============',
      'Under setext.',
    ].join('\n');
    const blocks = [...documentBlocks('text/markdown', md)];
    expect(blocks.map((b) => [b.sectionPath.join(' > '), b.text])).toEqual([
      ['Handbook', 'Welcome.'],
      ['Handbook > Leave', 'Annual leave is 25 days.'],
      ['Handbook > Leave', 'Ask your manager.'],
      ['Handbook > Leave > Sick leave', 'Call in before 9.'],
      ['Handbook > Expenses', 'Keep receipts.'],
      ['Setext title', 'Under setext.'],
    ]);
  });

  it('keeps fenced code whole and ignores heading markers inside it', () => {
    const md = '# Setup\n```bash\n# not a heading\n\necho hi\n```\nAfter.';
    const blocks = [...documentBlocks('text/markdown', md)];
    expect(blocks).toEqual([
      expect.objectContaining({ sectionPath: ['Setup'], kind: 'code', text: '# not a heading\n\necho hi' }),
      expect.objectContaining({ sectionPath: ['Setup'], kind: 'prose', text: 'After.' }),
    ]);
  });
});

describe('documentBlocks (html)', () => {
  it('strips tags, decodes entities and drops script, style, noscript and comments with their content', () => {
    const html = `<!doctype html><html><head><title>Page title</title><style>p { color: red }</style>
      <script>var s = "</p><h1>fake</h1>"; alert(1)</script></head>
      <body><h1>Runbook &amp; FAQ</h1><!-- hidden comment --><p>Restart the <b>api</b>&nbsp;pod.<script>evil()</script></p>
      <noscript>enable js</noscript><div>Second<br>line</div><h2>Escalation</h2><ul><li>Page on-call</li><li>Open a ticket</li></ul>
      <pre>kubectl get pods
  -n prod</pre></body></html>`;
    const blocks = [...documentBlocks('text/html', html)];
    expect(blocks.map((b) => [b.sectionPath.join(' > '), b.kind, b.text])).toEqual([
      ['Runbook & FAQ', 'prose', 'Restart the api pod.'],
      ['Runbook & FAQ', 'prose', 'Second\nline'],
      ['Runbook & FAQ > Escalation', 'prose', 'Page on-call'],
      ['Runbook & FAQ > Escalation', 'prose', 'Open a ticket'],
      ['Runbook & FAQ > Escalation', 'code', 'kubectl get pods\n  -n prod'],
    ]);
    const all = blocks.map((b) => b.text).join(' ');
    for (const leaked of [
      'alert',
      'evil',
      'color',
      'fake',
      'hidden',
      'enable js',
      'Page title',
      '<',
      '&amp;',
    ]) {
      expect(all).not.toContain(leaked);
    }
  });

  it('survives unclosed and malformed tags without leaking markup', () => {
    const blocks = [
      ...documentBlocks('text/html', '<p>one <b>two <i>three</p><p>four < five & six</p><script>never'),
    ];
    expect(blocks.map((b) => b.text)).toEqual(['one two three', 'four < five & six']);
  });
});

describe('chunkDocument', () => {
  it('starts a new chunk at every heading and records the section path', () => {
    const md = '# A\nalpha text\n## B\nbeta text\n# C\ngamma text';
    const chunks = [...chunkDocument(source('text/markdown', md))];
    expect(chunks.map((c) => [c.sectionPath, c.text])).toEqual([
      [['A'], 'alpha text'],
      [['A', 'B'], 'beta text'],
      [['C'], 'gamma text'],
    ]);
    expect(chunks.map((c) => c.chunkIndex)).toEqual([0, 1, 2]);
  });

  it('packs small paragraphs of one section together', () => {
    const text = 'First paragraph.\n\nSecond paragraph.\n\nThird paragraph.';
    const chunks = [...chunkDocument(source('text/plain', text))];
    expect(chunks).toHaveLength(1);
    expect(chunks[0].text).toBe(text);
  });

  it('never exceeds the token budget, whatever the counter, even for unbroken strings', () => {
    const countWords = (t: string) => t.split(/\s+/).filter(Boolean).length + Math.floor(t.length / 50);
    const content = [
      `Intro. ${words(500)}.`,
      'x'.repeat(5000),
      'Short one.',
      Array.from({ length: 60 }, (_, i) => `Sentence number ${i} is here.`).join(' '),
    ].join('\n\n');
    for (const countTokens of [estimateTokens, countWords]) {
      const chunks = [
        ...chunkDocument(source('text/plain', content), { maxTokens: 40, overlapTokens: 8, countTokens }),
      ];
      expect(chunks.length).toBeGreaterThan(10);
      for (const chunk of chunks) {
        expect(countTokens(chunk.text)).toBeLessThanOrEqual(40);
        expect(chunk.tokenCount).toBe(countTokens(chunk.text));
        expect(chunk.text.trim()).not.toBe('');
      }
      // Every word of the document is in some chunk: nothing is lost when splitting.
      const joined = chunks.map((c) => c.text).join(' ');
      for (const w of ['w0', 'w250', 'w499', 'Sentence number 59']) expect(joined).toContain(w);
      expect(
        chunks
          .map((c) => c.text)
          .join('')
          .replace(/[^x]/g, '').length,
      ).toBeGreaterThanOrEqual(5000);
    }
  });

  it('repeats the end of a chunk at the start of the next within the overlap budget', () => {
    const sentences = Array.from({ length: 30 }, (_, i) => `Fact ${i} holds.`).join(' ');
    const chunks = [...chunkDocument(source('text/plain', sentences), { maxTokens: 20, overlapTokens: 6 })];
    expect(chunks.length).toBeGreaterThan(3);
    for (let i = 1; i < chunks.length; i++) {
      const previousLast = chunks[i - 1].text.split(/(?<=\.) /).pop() ?? '';
      expect(chunks[i].text.startsWith(previousLast)).toBe(true);
      expect(estimateTokens(previousLast)).toBeLessThanOrEqual(6);
    }
    const noOverlap = [
      ...chunkDocument(source('text/plain', sentences), { maxTokens: 20, overlapTokens: 0 }),
    ];
    expect(noOverlap.map((c) => c.text).join(' ')).toBe(sentences);
  });

  it('does not carry overlap across a heading', () => {
    const md = `# One\n${Array.from({ length: 10 }, (_, i) => `One ${i}.`).join(' ')}\n# Two\nTwo only.`;
    const chunks = [...chunkDocument(source('text/markdown', md), { maxTokens: 10, overlapTokens: 4 })];
    expect(chunks.at(-1)).toMatchObject({ sectionPath: ['Two'], text: 'Two only.' });
  });

  it('derives stable UUID ids from tenant, document, version and index, and hashes content', () => {
    const md = '# A\nalpha\n# B\nbeta';
    const first = [...chunkDocument(source('text/markdown', md))];
    const again = [...chunkDocument(source('text/markdown', md))];
    expect(again).toEqual(first);
    expect(first[0].id).toMatch(UUID);
    expect(first[1].id).toBe(chunkId('t1', 'doc-1', 1, 1));
    expect(
      new Set([
        chunkId('t1', 'doc-1', 1, 0),
        chunkId('t2', 'doc-1', 1, 0),
        chunkId('t1', 'doc-2', 1, 0),
        chunkId('t1', 'doc-1', 2, 0),
        chunkId('t1', 'doc-1', 1, 1),
      ]).size,
    ).toBe(5);
    expect(first[0].contentHash).toBe(chunkContentHash(['A'], 'alpha'));
    expect(chunkContentHash(['A'], 'alpha')).not.toBe(chunkContentHash(['B'], 'alpha'));
    const [moved] = [...chunkDocument(source('text/markdown', md, { version: 2 }))];
    expect(moved.id).not.toBe(first[0].id);
    expect(moved.contentHash).toBe(first[0].contentHash);
  });

  it('produces chunks lazily: taking the first chunks reads only the start of a large document', () => {
    const large = Array.from({ length: 2000 }, (_, i) => `Paragraph ${i} ${words(30)}.`).join('\n\n');
    let counted = 0;
    const countTokens = (t: string) => ((counted += t.length), estimateTokens(t));
    const iterator = chunkDocument(source('text/plain', large), { countTokens });
    const first = iterator.next().value;
    expect(first?.text.startsWith('Paragraph 0 ')).toBe(true);
    const charsForFirst = counted;
    for (let next = iterator.next(); !next.done; next = iterator.next());
    expect(charsForFirst).toBeLessThan(counted / 100);
  });

  it('rejects an overlap that leaves no room for new text', () => {
    expect(() => [...chunkDocument(source('text/plain', 'x'), { maxTokens: 10, overlapTokens: 10 })]).toThrow(
      /overlapTokens/,
    );
  });

  it('yields no chunks for an empty, blank or markup-only document', () => {
    expect([...chunkDocument(source('text/html', '<script>x</script><p> </p>'))]).toEqual([]);
    expect([...chunkDocument(source('text/markdown', ''))]).toEqual([]);
    expect([...chunkDocument(source('text/plain', ' \n\t\n'))]).toEqual([]);
    expect([...chunkDocument(source('text/markdown', '#\n\n---\n'))]).toEqual([]);
  });

  it('indexes the headings of a heading-only document as its text (a one-line note is a document too)', () => {
    const md = [...chunkDocument(source('text/markdown', '\n\n# Only a heading\n'))];
    expect(md.map((c) => ({ text: c.text, sectionPath: c.sectionPath }))).toEqual([
      { text: 'Only a heading', sectionPath: [] },
    ]);
    const setext = [...chunkDocument(source('text/markdown', 'Release notes\n=====\n## Q3 freeze  ##\n'))];
    expect(setext.map((c) => c.text)).toEqual(['Release notes\nQ3 freeze']);
    const html = [
      ...chunkDocument(source('text/html', '<h1>Office  closed</h1><h2>Friday &amp; Monday</h2>')),
    ];
    expect(html.map((c) => c.text)).toEqual(['Office closed\nFriday & Monday']);
  });

  it('keeps headings out of the text of a document that has text of its own', () => {
    const chunks = [...chunkDocument(source('text/markdown', '# Title\n\nBody.\n\n# Empty section\n'))];
    expect(chunks.map((c) => [c.sectionPath, c.text])).toEqual([[['Title'], 'Body.']]);
  });
});
