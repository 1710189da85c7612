import { adaptSchemaForStrictMode, strictSchemaProblems, stripAdaptedNulls } from './strict-schema';

const ticket = {
  type: 'object',
  required: ['category', 'citations'],
  properties: {
    category: { type: 'string', enum: ['billing', 'technical'] },
    note: { type: 'string', maxLength: 200 },
    score: { type: 'number', minimum: 0 },
    citations: { type: 'array', uniqueItems: true, maxItems: 4, items: { type: 'string', maxLength: 50 } },
    contact: {
      type: 'object',
      required: ['email'],
      properties: { email: { type: 'string', format: 'email' }, phone: { type: 'string', format: 'phone' } },
    },
  },
};

describe('strict structured-output schemas', () => {
  it('makes every property required, optional ones nullable, and forbids additional properties', () => {
    const strict = adaptSchemaForStrictMode(ticket);
    expect(strict).toEqual({
      type: 'object',
      required: ['category', 'note', 'score', 'citations', 'contact'],
      additionalProperties: false,
      properties: {
        category: { type: 'string', enum: ['billing', 'technical'] },
        note: { type: ['string', 'null'] },
        score: { type: ['number', 'null'], minimum: 0 },
        citations: { type: 'array', maxItems: 4, items: { type: 'string' } },
        contact: {
          type: ['object', 'null'],
          required: ['email', 'phone'],
          additionalProperties: false,
          properties: { email: { type: 'string', format: 'email' }, phone: { type: ['string', 'null'] } },
        },
      },
    });
    expect(ticket.properties.note).toEqual({ type: 'string', maxLength: 200 });
  });

  it('widens an optional enum with null and wraps an optional const in anyOf', () => {
    const strict = adaptSchemaForStrictMode({
      type: 'object',
      properties: { level: { type: 'string', enum: ['a', 'b'] }, kind: { const: 'x' } },
    });
    expect(strict['properties']).toEqual({
      level: { type: ['string', 'null'], enum: ['a', 'b', null] },
      kind: { anyOf: [{ const: 'x' }, { type: 'null' }] },
    });
  });

  it('removes the nulls that stood for absent optional properties, and only those', () => {
    const answer = {
      category: 'billing',
      note: null,
      score: 0.5,
      citations: ['p1'],
      contact: { email: 'a@example.com', phone: null },
    };
    expect(stripAdaptedNulls(answer, ticket)).toEqual({
      category: 'billing',
      score: 0.5,
      citations: ['p1'],
      contact: { email: 'a@example.com' },
    });
    const nullableAlready = { type: 'object', properties: { n: { type: ['string', 'null'] } } };
    expect(stripAdaptedNulls({ n: null }, nullableAlready)).toEqual({ n: null });
  });

  it('finds nothing to refuse in a schema adaptation can handle', () => {
    expect(strictSchemaProblems(ticket)).toEqual([]);
  });

  it('names each construct strict mode cannot take, with its path', () => {
    const problems = strictSchemaProblems({
      type: 'object',
      properties: {
        answer: { oneOf: [{ type: 'string' }, { type: 'number' }] },
        extra: { type: 'object', additionalProperties: true, properties: {} },
        meta: { type: 'object' },
        tags: { type: 'array', items: { type: 'string', not: { const: '' } } },
      },
    });
    expect(problems.map((p) => p.path)).toEqual([
      'properties.answer.oneOf',
      'properties.extra.additionalProperties',
      'properties.meta',
      'properties.tags.items.not',
    ]);
    expect(problems[0].message).toContain('use `anyOf`');
    expect(strictSchemaProblems({ type: 'array' })[0]).toMatchObject({ path: '' });
  });
});
