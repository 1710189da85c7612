import { CLASSIFICATION_METHODS, MODEL_TIERS } from '@llmbus/contracts';
import { PII_ACTIONS, PII_ENTITY_TYPES } from '@llmbus/pii';

const ID = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const FIELD = (root: string) => `^${root}(\\.[A-Za-z0-9_-]+)+$`;
const scalar = { type: ['string', 'number', 'boolean'] };
const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength });

const fieldCondition = {
  type: 'object',
  additionalProperties: false,
  required: ['field'],
  // `field` plus exactly one operator.
  minProperties: 2,
  maxProperties: 2,
  properties: {
    field: { type: 'string', pattern: FIELD('(input|requester|classification)') },
    equals: scalar,
    in: { type: 'array', minItems: 1, items: scalar },
    exists: { type: 'boolean' },
    matches: { type: 'string', format: 'regex' },
  },
};

const matchRule = {
  type: 'object',
  additionalProperties: false,
  anyOf: [{ required: ['eventType'] }, { required: ['when'] }],
  properties: {
    eventType: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      properties: {
        equals: { type: 'string', minLength: 1 },
        in: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      },
    },
    when: { type: 'array', minItems: 1, items: fieldCondition },
    priority: { type: 'integer' },
    modelTier: { enum: MODEL_TIERS },
  },
};

const outputField = { type: 'string', pattern: FIELD('output') };

const ruleShape = (rule: string, extra: Record<string, unknown>, required: string[] = []) => ({
  if: { properties: { rule: { const: rule } } },
  then: {
    additionalProperties: false,
    required,
    properties: { rule: { const: rule }, field: outputField, message: text(500), ...extra },
  },
});

// if/then per rule kind rather than oneOf: ajv then reports only the failing kind's errors.
const businessRule = {
  type: 'object',
  required: ['rule', 'field'],
  properties: { rule: { enum: ['required', 'forbiddenPhrases', 'minimum', 'matchesClassification'] } },
  allOf: [
    ruleShape('required', {}),
    ruleShape('forbiddenPhrases', { phrases: { type: 'array', minItems: 1, items: text(200) } }, ['phrases']),
    ruleShape('minimum', { value: { type: 'number' } }, ['value']),
    ruleShape('matchesClassification', {}),
  ],
};

const piiChannel = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(['default', ...PII_ENTITY_TYPES].map((key) => [key, { enum: PII_ACTIONS }])),
};

/** JSON Schema of a workflow file; ajv checks every file against it at load. */
export const WORKFLOW_FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'version',
    'description',
    'match',
    'model',
    'input',
    'retrieval',
    'prompt',
    'output',
    'validation',
  ],
  properties: {
    id: { type: 'string', pattern: ID },
    version: { type: 'integer', minimum: 1 },
    description: text(2000),
    match: { type: 'array', items: matchRule },
    model: {
      type: 'object',
      additionalProperties: false,
      required: ['tier', 'budget'],
      properties: {
        tier: { enum: MODEL_TIERS },
        id: { type: 'string', pattern: '^[a-z0-9][a-z0-9._/-]{0,127}$' },
        cascade: { type: 'array', minItems: 2, maxItems: 5, items: { enum: MODEL_TIERS } },
        cache: {
          type: 'object',
          additionalProperties: false,
          required: ['ttlSeconds'],
          properties: { ttlSeconds: { type: 'integer', minimum: 1, maximum: 2_592_000 } },
        },
        budget: {
          type: 'object',
          additionalProperties: false,
          required: ['maxOutputTokens', 'maxCostUsd'],
          properties: {
            maxOutputTokens: { type: 'integer', minimum: 1, maximum: 1_000_000 },
            maxCostUsd: { type: 'number', minimum: 0 },
          },
        },
      },
    },
    input: {
      type: 'object',
      additionalProperties: false,
      required: ['schema'],
      properties: { schema: { type: 'object' }, stream: { type: 'boolean' } },
    },
    retrieval: {
      type: 'object',
      additionalProperties: false,
      required: ['collections', 'topK', 'query'],
      properties: {
        collections: { type: 'array', maxItems: 20, items: { type: 'string', pattern: ID } },
        topK: { type: 'integer', minimum: 0, maximum: 50 },
        query: { type: 'string', maxLength: 8000 },
        priorities: {
          type: 'object',
          propertyNames: { pattern: ID },
          additionalProperties: { type: 'number', minimum: 0, maximum: 10 },
        },
        abstainWhenUnanswerable: { type: 'boolean' },
        document: {
          type: 'object',
          additionalProperties: false,
          required: ['field', 'into'],
          properties: {
            field: { type: 'string', pattern: '^input\\.[A-Za-z_][A-Za-z0-9_]*$' },
            into: { type: 'string', pattern: '^input\\.[A-Za-z_][A-Za-z0-9_]*$' },
            collections: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', pattern: ID } },
            maxChars: { type: 'integer', minimum: 1, maximum: 1_000_000 },
          },
        },
      },
    },
    prompt: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'version', 'system', 'user'],
      properties: {
        id: { type: 'string', pattern: ID },
        version: { type: 'integer', minimum: 1 },
        system: text(50_000),
        user: text(50_000),
        truncateField: { type: 'string', pattern: FIELD('input') },
      },
    },
    output: {
      type: 'object',
      additionalProperties: false,
      required: ['schema'],
      properties: { schema: { type: 'object' }, stream: { type: 'boolean' } },
    },
    validation: {
      type: 'object',
      additionalProperties: false,
      required: ['maxAttempts', 'stricterInstruction', 'rules', 'onExhaustion'],
      properties: {
        maxAttempts: { type: 'integer', minimum: 1, maximum: 10 },
        stricterInstruction: text(4000),
        rules: { type: 'array', items: businessRule },
        citations: {
          type: 'object',
          additionalProperties: false,
          required: ['field'],
          properties: { field: outputField, min: { type: 'integer', minimum: 0 } },
        },
        onExhaustion: { enum: ['review', 'fail'] },
        confidence: {
          type: 'object',
          additionalProperties: false,
          required: ['accept', 'retry'],
          properties: {
            accept: { type: 'number', minimum: 0, maximum: 1 },
            retry: { type: 'number', minimum: 0, maximum: 1 },
            selfReport: outputField,
          },
        },
        abstention: {
          type: 'object',
          additionalProperties: false,
          required: ['field'],
          properties: { field: outputField },
        },
        forceReview: {
          type: 'array',
          maxItems: 20,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['field'],
            oneOf: [{ required: ['equals'] }, { required: ['atLeast'] }],
            properties: {
              field: { type: 'string', pattern: FIELD('(output|classification)') },
              equals: scalar,
              atLeast: { type: 'number' },
              message: text(500),
            },
          },
        },
        reviewInjectedInstructions: { type: 'boolean' },
      },
    },
    generate: {
      type: 'object',
      additionalProperties: false,
      required: ['tools'],
      properties: {
        tools: {
          type: 'array',
          maxItems: 32,
          uniqueItems: true,
          items: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' },
        },
        maxToolRounds: { type: 'integer', minimum: 1, maximum: 16 },
      },
    },
    verify: {
      type: 'object',
      additionalProperties: false,
      properties: {
        quotes: { type: 'boolean' },
        sources: { type: 'array', maxItems: 10, items: { type: 'string', pattern: FIELD('input') } },
        references: { type: 'array', maxItems: 10, items: outputField },
        model: {
          type: 'object',
          additionalProperties: false,
          properties: {
            tier: { enum: MODEL_TIERS },
            timeoutMs: { type: 'integer', minimum: 1000, maximum: 600_000 },
          },
        },
      },
    },
    classify: {
      type: 'object',
      additionalProperties: false,
      required: ['method', 'text', 'minScore'],
      properties: {
        method: { enum: CLASSIFICATION_METHODS },
        text: text(8000),
        examples: { type: 'string', pattern: '^[A-Za-z0-9._/-]+\\.jsonl$' },
        k: { type: 'integer', minimum: 1, maximum: 50 },
        minScore: { type: 'number', minimum: 0, maximum: 1 },
        tier: { enum: MODEL_TIERS },
      },
    },
    pii: {
      type: 'object',
      additionalProperties: false,
      properties: {
        prompts: piiChannel,
        outputs: piiChannel,
        audit: piiChannel,
        tenants: {
          type: 'object',
          propertyNames: { pattern: ID },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            properties: { prompts: piiChannel, outputs: piiChannel, audit: piiChannel },
          },
        },
      },
    },
  },
} as const;
