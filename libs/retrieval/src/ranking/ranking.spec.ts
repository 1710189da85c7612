import { lexicalTerms, bm25Score, withIdentifierParts } from './bm25';
import { withinTokenBudget } from './context-budget';
import { normalisedScores, reciprocalRankFusion, weightedScoreFusion } from './fusion';
import { withoutNearDuplicates } from './near-duplicates';

describe('reciprocalRankFusion', () => {
  it('ranks an item found high by two lists above items found high by one', () => {
    const fused = reciprocalRankFusion([{ items: ['a', 'b', 'c'] }, { items: ['c', 'd', 'b'] }], (x) => x);
    expect(fused.map((f) => f.item)).toEqual(['c', 'b', 'a', 'd']);
    expect(fused[0].score).toBeCloseTo(1 / 63 + 1 / 61, 10);
  });

  it('multiplies contributions by list and item weights', () => {
    const byItem = reciprocalRankFusion([{ items: ['wiki-1', 'runbook-1'] }], (x) => x, {
      itemWeight: (x) => (x.startsWith('runbook') ? 2 : 1),
    });
    expect(byItem.map((f) => f.item)).toEqual(['runbook-1', 'wiki-1']);
    const byList = reciprocalRankFusion([{ items: ['a'] }, { items: ['b'], weight: 3 }], (x) => x);
    expect(byList.map((f) => f.item)).toEqual(['b', 'a']);
  });
});

describe('weightedScoreFusion', () => {
  // A paraphrase: the answer is far nearer by vector than anything else but shares no word with the
  // question; another chunk is a mediocre vector match that also shares one incidental word.
  const vector = [
    { id: 'answer', score: 0.62 },
    { id: 'incidental', score: 0.4 },
    { id: 'c', score: 0.38 },
    { id: 'd', score: 0.37 },
    { id: 'e', score: 0.36 },
  ];
  const lexical = [
    { id: 'incidental', score: 3.1 },
    { id: 'f', score: 2.9 },
    { id: 'g', score: 2.8 },
  ];
  const byId = (x: { id: string }) => x.id;

  it('keeps a clear vector winner first where rank fusion lets a chunk found by both lists win', () => {
    const rrf = reciprocalRankFusion([{ items: vector }, { items: lexical }], byId);
    expect(rrf[0].item.id).toBe('incidental');
    const scores = weightedScoreFusion(
      [
        { items: vector, weight: 0.7, score: (x) => x.score, normalisation: 'dbsf' },
        { items: lexical, weight: 0.3, score: (x) => x.score, normalisation: 'dbsf' },
      ],
      byId,
    );
    expect(scores.map((f) => f.item.id).slice(0, 2)).toEqual(['answer', 'incidental']);
  });

  it('lets a list decide when the other has no clear winner, and applies item weights', () => {
    const flat = vector.map((x) => ({ ...x, score: 0.4 }));
    const fused = weightedScoreFusion(
      [
        { items: flat, weight: 0.7, score: (x) => x.score, normalisation: 'dbsf' },
        { items: lexical, weight: 0.3, score: (x) => x.score, normalisation: 'dbsf' },
      ],
      byId,
      { itemWeight: (x) => (x.id === 'g' ? 10 : 1) },
    );
    expect(fused.map((f) => f.item.id).slice(0, 2)).toEqual(['g', 'incidental']);
  });
});

describe('normalisedScores', () => {
  it('puts scores on 0 to 1 by maximum, range or distribution', () => {
    expect(normalisedScores([4, 2, 1], 'max')).toEqual([1, 0.5, 0.25]);
    expect(normalisedScores([4, 2, 1], 'min-max')).toEqual([1, 1 / 3, 0]);
    expect(normalisedScores([0.5, 0.3], 'none')).toEqual([0.5, 0.3]);
    // μ = 2, σ = 1: μ ± 3σ map to 0 and 1.
    const dbsf = normalisedScores([3, 1, 3, 1], 'dbsf');
    [4 / 6, 2 / 6, 4 / 6, 2 / 6].forEach((x, i) => expect(dbsf[i]).toBeCloseTo(x, 10));
    expect(normalisedScores([7], 'dbsf')).toEqual([1]);
    expect(normalisedScores([], 'max')).toEqual([]);
  });
});

describe('withoutNearDuplicates', () => {
  it('keeps the first of exact copies (case and punctuation aside) and of near copies', () => {
    const text =
      'Restart the billing worker with systemctl restart billing-worker, then check the queue depth on the dashboard and page the owner if it keeps growing. ' +
      'If the queue drains within ten minutes, close the incident and note the restart in the weekly operations review with the time it took.';
    const items = [
      text,
      text.toUpperCase(),
      text.replace('ten minutes', 'fifteen minutes'),
      'Rotate the database password every ninety days.',
    ];
    expect(withoutNearDuplicates(items, (t) => t)).toEqual([
      text,
      'Rotate the database password every ninety days.',
    ]);
  });

  it('keeps passages that merely share a topic', () => {
    const items = ['Vacation requests go to your manager.', 'Expense reports go to your manager.'];
    expect(withoutNearDuplicates(items, (t) => t)).toEqual(items);
  });

  it('keeps what comparing every pair of passages keeps, at any threshold', () => {
    // Passages drawn from a few words, so many share shingles and some are near copies.
    let seed = 5;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const words = ['refund', 'hotel', 'travel', 'policy', 'manager', 'approves', 'the', 'per', 'night'];
    const base = Array.from({ length: 12 }, () =>
      Array.from({ length: 4 + Math.floor(random() * 8) }, () => words[Math.floor(random() * words.length)]),
    );
    const items = Array.from({ length: 80 }, (_, i) => {
      const text = [...base[i % base.length]];
      if (random() < 0.5)
        text[Math.floor(random() * text.length)] = words[Math.floor(random() * words.length)];
      return text.join(' ');
    });
    items.push('', '!!');
    // The reference: every passage against every passage kept before it.
    const wordsOf = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    const shingles = (text: string) => {
      const w = wordsOf(text);
      const size = Math.min(3, w.length);
      const counts = new Map<string, number>();
      for (let i = 0; size > 0 && i + size <= w.length; i++) {
        const s = w.slice(i, i + size).join(' ');
        counts.set(s, (counts.get(s) ?? 0) + 1);
      }
      return counts;
    };
    const cosine = (a: Map<string, number>, b: Map<string, number>) => {
      let dot = 0;
      for (const [k, v] of a) dot += v * (b.get(k) ?? 0);
      const norm = Math.hypot(...a.values()) * Math.hypot(...b.values());
      return norm > 0 ? dot / norm : 0;
    };
    for (const threshold of [0.5, 0.8, 0.9, 0]) {
      const kept: string[] = [];
      for (const item of items) {
        const own = shingles(item);
        const copy = kept.some((k) => {
          const other = shingles(k);
          if (wordsOf(k).join(' ') === wordsOf(item).join(' ')) return true;
          return own.size > 0 && other.size > 0 && cosine(own, other) >= threshold;
        });
        if (!copy) kept.push(item);
      }
      expect(withoutNearDuplicates(items, (t) => t, threshold)).toEqual(kept);
    }
  });
});

describe('withinTokenBudget', () => {
  it('keeps the best passages that fit, skipping one too long for the rest of the budget', () => {
    const items = ['a'.repeat(400), 'b'.repeat(2000), 'c'.repeat(400), 'd'.repeat(400)];
    expect(withinTokenBudget(items, (t) => t, { maxTokens: 250, limit: 10 }).map((t) => t[0])).toEqual([
      'a',
      'c',
    ]);
    expect(withinTokenBudget(items, (t) => t, { maxTokens: 10_000, limit: 3 }).map((t) => t[0])).toEqual([
      'a',
      'b',
      'c',
    ]);
  });
});

describe('BM25', () => {
  it('drops stop words and folds plurals', () => {
    expect(lexicalTerms('What are the policies for laptops?')).toEqual(['policy', 'laptop']);
  });

  it('adds the parts of CamelCase and snake_case identifiers to a query', () => {
    expect(withIdentifierParts('PaymentsGatewaySlowResponses fired')).toBe(
      'PaymentsGatewaySlowResponses fired Payments Gateway Slow Responses',
    );
    expect(withIdentifierParts('order_service HTTPServerError')).toBe(
      'order_service HTTPServerError order service HTTP Server Error',
    );
    expect(withIdentifierParts('plain words')).toBe('plain words');
  });

  it('weighs a rare term above a common one', () => {
    const stats = {
      documentCount: 100,
      averageLength: 10,
      documentFrequency: new Map([
        ['policy', 90],
        ['mileage', 2],
      ]),
    };
    expect(bm25Score(['mileage'], lexicalTerms('mileage rules'), stats)).toBeGreaterThan(
      bm25Score(['policy'], lexicalTerms('policy rules'), stats),
    );
    expect(bm25Score(['mileage'], ['other'], stats)).toBe(0);
  });
});
