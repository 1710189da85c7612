import { EmbeddingReranker, passageWindows } from './reranker';
import { HashedBagOfWordsEmbedder } from './testing/hashed-embedder';

describe('EmbeddingReranker', () => {
  const long = {
    id: 'c1',
    title: 'Handbook',
    sectionPath: ['Leave'],
    text: 'Leave is booked in the HR portal. Sick leave needs a note after three days. Parental leave lasts sixteen weeks. Unpaid leave needs approval.',
  };

  it('cuts a passage into two-sentence windows under its headings', () => {
    expect(passageWindows(long)).toEqual([
      'Handbook > Leave\nLeave is booked in the HR portal. Sick leave needs a note after three days.',
      'Handbook > Leave\nSick leave needs a note after three days. Parental leave lasts sixteen weeks.',
      'Handbook > Leave\nParental leave lasts sixteen weeks. Unpaid leave needs approval.',
    ]);
  });

  it('scores the passage holding the answering sentence highest, embedding each chunk once', async () => {
    const embedder = new HashedBagOfWordsEmbedder(512);
    const reranker = new EmbeddingReranker(embedder);
    const other = {
      id: 'c2',
      title: 'Handbook',
      sectionPath: ['Laptops'],
      text: 'Laptops are replaced every three years. The IT desk orders them.',
    };
    const first = await reranker.rerank('parental leave weeks', [other, long]);
    expect(first.scores[1]).toBeGreaterThan(first.scores[0]);
    expect(first.usage?.modelId).toBe('test-hashed-bow');
    await reranker.rerank('laptop replacement', [other, long]);
    expect(embedder.calls[1]).toEqual(['laptop replacement']);
  });
});
