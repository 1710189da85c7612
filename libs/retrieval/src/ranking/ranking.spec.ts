import { lexicalTerms, bm25Score, withIdentifierParts } from './bm25';
import { withinTokenBudget } from './context-budget';
import { reciprocalRankFusion } from './fusion';
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
