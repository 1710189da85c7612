import { ModelError } from '../model-error';
import { toGrammarSchema } from './grammar-schema';

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
