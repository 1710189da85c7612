import { ModelError } from '../model-error';
import {
  dropRepeatedItems,
  fitGrammarToTokenBudget,
  MIN_CHARS_PER_TOKEN,
  toGrammarSchema,
} from './grammar-schema';

const limits = { maxStringLength: 100, maxArrayItems: 5 };

describe('toGrammarSchema', () => {
  it('caps string lengths and array sizes so repetition cannot break the JSON', () => {
    expect(
      toGrammarSchema(
        {
          type: 'object',
          properties: {
            summary: { type: 'string' },
            title: { type: 'string', maxLength: 40, minLength: 1 },
            tags: { type: 'array', items: { type: 'string', maxLength: 500 } },
          },
        },
        limits,
      ),
    ).toEqual({
      type: 'object',
      properties: {
        summary: { type: 'string', maxLength: 100 },
        title: { type: 'string', minLength: 1, maxLength: 40 },
        tags: { type: 'array', maxItems: 5, items: { type: 'string', maxLength: 100 } },
      },
    });
  });

  it('keeps enums, consts, primitives, grammar formats and descriptions', () => {
    expect(
      toGrammarSchema(
        {
          type: 'object',
          properties: {
            category: { enum: ['billing', 'bug'], description: 'ticket kind' },
            version: { const: 1 },
            confidence: { type: 'number', minimum: 0 },
            due: { type: 'string', format: 'date' },
          },
        },
        limits,
      ),
    ).toEqual({
      type: 'object',
      properties: {
        category: { enum: ['billing', 'bug'], description: 'ticket kind' },
        version: { const: 1 },
        confidence: { type: 'number' },
        due: { type: 'string', format: 'date' },
      },
    });
  });

  it('spells bounded numbers out as values in range, so a confidence cannot be 5', () => {
    const grammar = toGrammarSchema(
      {
        type: 'object',
        properties: {
          confidence: { type: 'number', minimum: 0, maximum: 1 },
          stars: { type: 'integer', minimum: 1, maximum: 5 },
          open: { type: 'number', minimum: 0 },
          wide: { type: 'integer', minimum: 0, maximum: 1000 },
        },
      },
      limits,
    ) as { properties: Record<string, { enum?: number[]; type?: string }> };
    const confidence = grammar.properties['confidence']!.enum!;
    expect(confidence).toHaveLength(21);
    expect(confidence.slice(0, 3)).toEqual([0, 0.05, 0.1]);
    expect(confidence[20]).toBe(1);
    expect(grammar.properties['stars']).toEqual({ enum: [1, 2, 3, 4, 5] });
    expect(grammar.properties['open']).toEqual({ type: 'number' });
    expect(grammar.properties['wide']).toEqual({ type: 'integer' });
  });

  it('turns anyOf and nullable type lists into oneOf', () => {
    expect(toGrammarSchema({ type: ['string', 'null'], maxLength: 10 }, limits)).toEqual({
      oneOf: [{ type: 'string', maxLength: 10 }, { type: 'null' }],
    });
    expect(toGrammarSchema({ anyOf: [{ type: 'integer' }, { type: 'boolean' }] }, limits)).toEqual({
      oneOf: [{ type: 'integer' }, { type: 'boolean' }],
    });
  });

  it('keeps local $defs references', () => {
    expect(
      toGrammarSchema(
        {
          $defs: { city: { type: 'string' } },
          type: 'object',
          properties: { from: { $ref: '#/$defs/city' } },
        },
        limits,
      ),
    ).toEqual({
      type: 'object',
      properties: { from: { $ref: '#/$defs/city' } },
      $defs: { city: { type: 'string', maxLength: 100 } },
    });
  });

  it('rejects constructs the grammar cannot express as bad_request naming the path', () => {
    const attempt = () =>
      toGrammarSchema(
        { type: 'object', properties: { a: { allOf: [{ type: 'string' }] } } },
        limits,
        'responseSchema "x"',
      );
    expect(attempt).toThrow(ModelError);
    expect(attempt).toThrow('responseSchema "x" at $.a: keyword "allOf" is not supported');
    expect(() => toGrammarSchema({ type: 'object', properties: { any: {} } }, limits)).toThrow(
      'at $.any: the schema does not say what type',
    );
    expect(() => toGrammarSchema({ type: 'string', minLength: 500 }, limits)).toThrow(
      'minLength 500 exceeds the local string cap',
    );
  });

  it('emits only listed properties unless the schema describes a map', () => {
    expect(toGrammarSchema({ type: 'object', additionalProperties: { type: 'integer' } }, limits)).toEqual({
      type: 'object',
      properties: {},
      additionalProperties: { type: 'integer' },
    });
    expect(
      toGrammarSchema(
        { type: 'object', properties: { a: { type: 'boolean' } }, additionalProperties: true },
        limits,
      ),
    ).toEqual({
      type: 'object',
      properties: { a: { type: 'boolean' } },
    });
  });
});

describe('fitGrammarToTokenBudget', () => {
  const review = toGrammarSchema({
    type: 'object',
    properties: {
      clauses: {
        type: 'array',
        maxItems: 6,
        items: {
          type: 'object',
          properties: {
            clauseNumber: { type: ['string', 'null'], maxLength: 20 },
            summary: { type: 'string', maxLength: 400 },
            redline: { type: 'string', minLength: 3, maxLength: 500 },
            deviation: { type: 'number', minimum: 0, maximum: 1 },
          },
        },
      },
      citations: { type: 'array', maxItems: 6, items: { type: 'string', maxLength: 200 } },
    },
  });

  /** The longest JSON the grammar allows: every string at its maxLength, every array full. */
  function longest(node: Record<string, unknown>): unknown {
    if (Array.isArray(node.enum))
      return node.enum.reduce((a, b) => (JSON.stringify(a).length >= JSON.stringify(b).length ? a : b));
    if (Array.isArray(node.oneOf)) return longest(node.oneOf[0] as Record<string, unknown>);
    if (node.type === 'string') return 'x'.repeat(node.maxLength as number);
    if (node.type === 'array')
      return Array.from({ length: node.maxItems as number }, () =>
        longest(node.items as Record<string, unknown>),
      );
    if (node.type === 'object')
      return Object.fromEntries(
        Object.entries(node.properties as Record<string, Record<string, unknown>>).map(([k, v]) => [
          k,
          longest(v),
        ]),
      );
    return 0;
  }

  it('shrinks every string bound alike so the longest possible answer fits the token budget', () => {
    const before = JSON.stringify(longest(review)).length;
    const fitted = fitGrammarToTokenBudget(review, 800);
    const after = JSON.stringify(longest(fitted)).length;
    expect(before).toBeGreaterThan(800 * MIN_CHARS_PER_TOKEN);
    expect(after).toBeLessThanOrEqual(800 * MIN_CHARS_PER_TOKEN);
    const item = (
      (fitted.properties as Record<string, Record<string, unknown>>).clauses.items as Record<
        string,
        Record<string, Record<string, unknown>>
      >
    ).properties;
    expect(item.summary.maxLength).toBeLessThan(200);
    expect(item.redline.minLength).toBe(3);
    expect(item.deviation).toEqual(
      (review.properties as never as Record<string, Record<string, Record<string, Record<string, unknown>>>>)
        .clauses.items.properties.deviation,
    );
  });

  it('returns a schema that already fits as it is, and never goes below a minLength', () => {
    expect(fitGrammarToTokenBudget(review, 100_000)).toBe(review);
    const tiny = fitGrammarToTokenBudget(
      { type: 'object', properties: { a: { type: 'string', minLength: 5, maxLength: 100 } } },
      1,
    );
    expect((tiny.properties as Record<string, Record<string, unknown>>).a).toEqual({
      type: 'string',
      minLength: 5,
      maxLength: 5,
    });
  });
});

describe('dropRepeatedItems', () => {
  const schema = {
    type: 'object',
    properties: {
      citations: { type: 'array', uniqueItems: true, items: { type: 'string' } },
      tags: { type: 'array', items: { type: 'string' } },
      clauses: { type: 'array', items: { $ref: '#/$defs/clause' } },
    },
    $defs: {
      clause: {
        type: 'object',
        properties: { refs: { type: 'array', uniqueItems: true, items: { type: 'string' } } },
      },
    },
  };

  it('keeps the first of repeated items where the schema asks for unique ones, and nothing else changes', () => {
    expect(
      dropRepeatedItems(
        { citations: ['a', 'b', 'a', 'a'], tags: ['x', 'x'], clauses: [{ refs: ['r', 'r'] }], extra: [1, 1] },
        schema,
      ),
    ).toEqual({ citations: ['a', 'b'], tags: ['x', 'x'], clauses: [{ refs: ['r'] }], extra: [1, 1] });
  });
});
