import { findUnstorableText } from '@llmbus/contracts';
import { chunkDocument, documentBlocks } from './chunker';

// Chunks are published (ContextRetrieved passages) and stored: no cut may split a surrogate pair.
const EMOJI = '\u{1F600}';

describe('chunking text with characters outside the BMP', () => {
  it('slices a long word of emoji on code-point boundaries for every token budget, one unit per token included', () => {
    const content = `x${EMOJI.repeat(300)}`;
    const bad: number[] = [];
    for (let maxTokens = 1; maxTokens <= 40; maxTokens++) {
      const chunks = [
        ...chunkDocument(
          { tenant: 't', documentId: 'd', version: 1, contentType: 'text/plain', content },
          { maxTokens, overlapTokens: 0, countTokens: (text) => text.length },
        ),
      ];
      const joined = chunks.map((c) => c.text).join('');
      if (findUnstorableText(chunks.map((c) => c.text)).length > 0 || joined !== content) bad.push(maxTokens);
    }
    expect(bad).toEqual([]);
  });

  it('keeps an emoji whole when HTML parsing slices the document across it', () => {
    // The emoji's first half is the last code unit of the first 64 KiB slice.
    const prefix = `<p>${'a'.repeat(64 * 1024 - 4)}`;
    const html = `${prefix}${EMOJI}b</p>`;
    expect(prefix.length).toBe(64 * 1024 - 1);
    const blocks = [...documentBlocks('text/html', html)];
    expect(blocks.map((b) => b.text.slice(-3))).toEqual([`${EMOJI}b`]);
    expect(findUnstorableText(blocks.map((b) => b.text))).toEqual([]);
  });
});
