import { ModelError } from '../model-error';
import type { JsonSchema } from '../model-provider';

export interface GrammarLimits {
  /** Cap on every string's length: a small model repeating itself must not run into the token limit. */
  readonly maxStringLength: number;
  /** Cap on every array's length, for the same reason. */
  readonly maxArrayItems: number;
}

export const DEFAULT_GRAMMAR_LIMITS: GrammarLimits = { maxStringLength: 200, maxArrayItems: 16 };

// The grammar cannot express these; accepting them would let output pass the grammar and then
// fail validation every time, so the request is rejected up front instead.
const UNSUPPORTED = [
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'patternProperties',
  'dependentSchemas',
  '$dynamicRef',
];
const PRIMITIVES = new Set(['string', 'number', 'integer', 'boolean', 'null']);
const GRAMMAR_FORMATS = new Set(['date', 'time', 'date-time']);

type Node = Record<string, unknown>;

/** Values a bounded non-integer number may take in the grammar: its range in 20 steps. */
const NUMBER_STEPS = 20;
/** Widest integer range the grammar spells out value by value. */
const MAX_INTEGER_VALUES = 101;

/**
 * A number with both `minimum` and `maximum` as an enum of values in range: the grammar cannot
 * bound a number, and a small model asked for a confidence from 0 to 1 writes 5 or 85 as often as
 * 0.8, which fails the schema after the whole generation. Integers: every value when the range
 * holds at most 101; numbers: the range in 20 equal steps, rounded to 4 decimals (0, 0.05, … 1).
 * `undefined` when the range is open or too wide (the plain type then).
 */
function boundedNumber(node: Node, type: 'number' | 'integer'): Node | undefined {
  const { minimum, maximum } = node;
  if (typeof minimum !== 'number' || typeof maximum !== 'number' || maximum < minimum) return undefined;
  if (type === 'integer') {
    const low = Math.ceil(minimum);
    const high = Math.floor(maximum);
    if (high < low || high - low + 1 > MAX_INTEGER_VALUES) return undefined;
    return { enum: Array.from({ length: high - low + 1 }, (_, i) => low + i) };
  }
  const values = Array.from(
    { length: NUMBER_STEPS + 1 },
    (_, i) => Math.round((minimum + ((maximum - minimum) * i) / NUMBER_STEPS) * 10_000) / 10_000,
  );
  return { enum: [...new Set(values)] };
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Converter {
  constructor(
    private readonly limits: GrammarLimits,
    private readonly label: string,
  ) {}

  fail(path: string, problem: string): never {
    throw new ModelError(
      'bad_request',
      `${this.label} at ${path}: ${problem} (local grammar-constrained decoding)`,
      {
        provider: 'local',
      },
    );
  }

  convert(value: unknown, path: string): Node {
    if (!isNode(value)) this.fail(path, 'expected a schema object');
    const node = value;
    for (const keyword of UNSUPPORTED)
      if (keyword in node) this.fail(path, `keyword "${keyword}" is not supported`);
    const described = (schema: Node): Node =>
      typeof node.description === 'string' ? { ...schema, description: node.description } : schema;

    if ('const' in node) return described({ const: node.const });
    if (Array.isArray(node.enum)) return described({ enum: node.enum });
    const alternatives = node.oneOf ?? node.anyOf;
    if (Array.isArray(alternatives)) {
      return described({
        oneOf: alternatives.map((alt, index) => this.convert(alt, `${path}.oneOf[${index}]`)),
      });
    }
    if (typeof node.$ref === 'string') {
      const match = /^#\/(?:\$defs|definitions)\/([^/]+)$/.exec(node.$ref);
      if (match === null)
        this.fail(path, `only local refs like "#/$defs/name" are supported, got "${node.$ref}"`);
      return described({ $ref: `#/$defs/${match[1]}` });
    }

    const type = node.type ?? (isNode(node.properties) ? 'object' : isNode(node.items) ? 'array' : undefined);
    if (Array.isArray(type)) {
      const types = type.filter((t): t is string => typeof t === 'string');
      return described({
        oneOf: types.map((t) => this.convert({ ...node, type: t, description: undefined }, path)),
      });
    }
    switch (type) {
      case 'string':
        return described(this.string(node, path));
      case 'object':
        return described(this.object(node, path));
      case 'array':
        return described(this.array(node, path));
      case undefined:
        return this.fail(path, 'the schema does not say what type the value has; add "type"');
      case 'number':
      case 'integer':
        return described(boundedNumber(node, type as 'number' | 'integer') ?? { type });
      default:
        if (typeof type === 'string' && PRIMITIVES.has(type)) return described({ type });
        return this.fail(path, `unknown type ${JSON.stringify(type)}`);
    }
  }

  private string(node: Node, path: string): Node {
    if (typeof node.format === 'string' && GRAMMAR_FORMATS.has(node.format))
      return { type: 'string', format: node.format };
    const cap = this.limits.maxStringLength;
    const maxLength = typeof node.maxLength === 'number' ? Math.min(node.maxLength, cap) : cap;
    const minLength = typeof node.minLength === 'number' ? node.minLength : undefined;
    if (minLength !== undefined && minLength > maxLength) {
      this.fail(path, `minLength ${minLength} exceeds the local string cap of ${cap} characters`);
    }
    return minLength === undefined ? { type: 'string', maxLength } : { type: 'string', minLength, maxLength };
  }

  private object(node: Node, path: string): Node {
    const properties = isNode(node.properties) ? node.properties : {};
    const converted: Node = {};
    for (const [name, schema] of Object.entries(properties))
      converted[name] = this.convert(schema, `${path}.${name}`);
    const result: Node = { type: 'object', properties: converted };
    // Unlisted keys are only generated when the schema asks for a map; otherwise output keeps to
    // the listed properties (always valid: JSON Schema allows them, the grammar emits them all).
    if (isNode(node.additionalProperties)) {
      result.additionalProperties = this.convert(node.additionalProperties, `${path}.*`);
    } else if (node.additionalProperties === true && Object.keys(converted).length === 0) {
      result.additionalProperties = true;
    }
    if (typeof node.minProperties === 'number') result.minProperties = node.minProperties;
    if (typeof node.maxProperties === 'number') result.maxProperties = node.maxProperties;
    return result;
  }

  private array(node: Node, path: string): Node {
    const cap = this.limits.maxArrayItems;
    const maxItems = typeof node.maxItems === 'number' ? Math.min(node.maxItems, cap) : cap;
    const result: Node = { type: 'array', maxItems };
    if (typeof node.minItems === 'number') {
      if (node.minItems > maxItems)
        this.fail(path, `minItems ${node.minItems} exceeds the local array cap of ${cap} items`);
      result.minItems = node.minItems;
    }
    if (node.items !== undefined && node.items !== true) result.items = this.convert(node.items, `${path}[]`);
    if (Array.isArray(node.prefixItems)) {
      result.prefixItems = node.prefixItems.map((item, index) => this.convert(item, `${path}[${index}]`));
    }
    return result;
  }
}

/**
 * Converts a JSON Schema into the subset node-llama-cpp turns into a grammar, capping string and
 * array lengths. Value checks the grammar cannot express (pattern, minimum, most formats) are left
 * to validation after generation. Structures it cannot express fail as `bad_request`.
 */
export function toGrammarSchema(
  schema: JsonSchema,
  limits: GrammarLimits = DEFAULT_GRAMMAR_LIMITS,
  label = 'schema',
): JsonSchema {
  const converter = new Converter(limits, label);
  const root = converter.convert(schema, '$');
  const defs = schema.$defs ?? schema.definitions;
  if (isNode(defs)) {
    const convertedDefs: Node = {};
    for (const [name, def] of Object.entries(defs))
      convertedDefs[name] = converter.convert(def, `$defs.${name}`);
    root.$defs = convertedDefs;
  }
  return root;
}

/**
 * Characters of output one completion token is assumed to cover at least. Gemma's tokenizer
 * averages about 4 characters per token on English prose; a weak model's output (repeated
 * fragments, digits, punctuation, ids) gets closer to 2, so 2 keeps the worst case inside the budget.
 */
export const MIN_CHARS_PER_TOKEN = 2;

/**
 * Shrinks the string bounds of a grammar schema (from toGrammarSchema) so that its longest
 * possible output fits `maxTokens` completion tokens (at MIN_CHARS_PER_TOKEN characters per
 * token). A grammar-constrained answer cut at the token limit is unfinished JSON, which fails the
 * whole answer ("not a JSON object"); within the budget it always parses. Every string's
 * `maxLength` is scaled by the same factor (never below its `minLength`, nor below 1); a schema
 * that already fits is returned unchanged. Returns a new object; the input is not modified.
 */
export function fitGrammarToTokenBudget(schema: JsonSchema, maxTokens: number): JsonSchema {
  const budget = maxTokens * MIN_CHARS_PER_TOKEN;
  const defs = isNode(schema.$defs) ? schema.$defs : {};
  const { fixed, strings } = worstCase(schema, defs, 0);
  if (fixed + strings <= budget || strings === 0) return schema;
  const factor = Math.max(0, budget - fixed) / strings;
  return scaleStrings(schema, factor) as JsonSchema;
}

/** Longest output of a node, split into string contents (scalable) and everything else (fixed). */
function worstCase(node: unknown, defs: Node, depth: number): { fixed: number; strings: number } {
  if (!isNode(node) || depth > 20) return { fixed: 8, strings: 0 };
  const longest = (parts: { fixed: number; strings: number }[]) =>
    parts.reduce((a, b) => (a.fixed + a.strings >= b.fixed + b.strings ? a : b), { fixed: 0, strings: 0 });
  if ('const' in node) return { fixed: JSON.stringify(node.const)?.length ?? 4, strings: 0 };
  if (Array.isArray(node.enum))
    return { fixed: Math.max(4, ...node.enum.map((v) => JSON.stringify(v)?.length ?? 4)), strings: 0 };
  if (Array.isArray(node.oneOf)) return longest(node.oneOf.map((alt) => worstCase(alt, defs, depth + 1)));
  if (typeof node.$ref === 'string') {
    const name = node.$ref.replace('#/$defs/', '');
    return worstCase(defs[name], defs, depth + 1);
  }
  switch (node.type) {
    case 'string':
      // Quotes, plus escapes: a character may take two in JSON, counted once (escapes are rare).
      return typeof node.format === 'string'
        ? { fixed: 32, strings: 0 }
        : { fixed: 2, strings: typeof node.maxLength === 'number' ? node.maxLength : 200 };
    case 'object': {
      const properties = isNode(node.properties) ? node.properties : {};
      let fixed = 2;
      let strings = 0;
      for (const [name, value] of Object.entries(properties)) {
        const part = worstCase(value, defs, depth + 1);
        fixed += name.length + 4 + part.fixed;
        strings += part.strings;
      }
      return { fixed, strings };
    }
    case 'array': {
      const items = typeof node.maxItems === 'number' ? node.maxItems : DEFAULT_GRAMMAR_LIMITS.maxArrayItems;
      const item = worstCase(node.items, defs, depth + 1);
      return { fixed: 2 + items * (item.fixed + 1), strings: items * item.strings };
    }
    case 'number':
    case 'integer':
      return { fixed: 24, strings: 0 };
    case 'boolean':
      return { fixed: 5, strings: 0 };
    default:
      return { fixed: 8, strings: 0 };
  }
}

function scaleStrings(node: unknown, factor: number): unknown {
  if (Array.isArray(node)) return node.map((item) => scaleStrings(item, factor));
  if (!isNode(node)) return node;
  const scaled: Node = {};
  for (const [key, value] of Object.entries(node)) {
    scaled[key] = key === 'enum' || key === 'const' ? value : scaleStrings(value, factor);
  }
  if (node.type === 'string' && typeof node.maxLength === 'number') {
    const floor = Math.max(1, typeof node.minLength === 'number' ? node.minLength : 0);
    scaled.maxLength = Math.max(floor, Math.floor(node.maxLength * factor));
  }
  return scaled;
}

/**
 * Drops repeated items from the arrays the schema marks `uniqueItems: true` (first occurrence
 * kept, items compared by their JSON), following the schema through properties, items, oneOf/anyOf
 * and local `$defs` refs. A grammar cannot express uniqueness, and a small model repeats itself
 * (the same citation twice); the repeated item adds nothing, while the schema would refuse the
 * whole answer. Values the schema does not describe are returned unchanged.
 */
export function dropRepeatedItems(
  value: unknown,
  schema: unknown,
  root: unknown = schema,
  depth = 0,
): unknown {
  if (!isNode(schema) || depth > 20) return value;
  if (typeof schema.$ref === 'string') {
    const match = /^#\/(?:\$defs|definitions)\/([^/]+)$/.exec(schema.$ref);
    const defs = isNode(root) ? (root.$defs ?? root.definitions) : undefined;
    return match && isNode(defs) ? dropRepeatedItems(value, defs[match[1]], root, depth + 1) : value;
  }
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (Array.isArray(alternatives)) {
    return alternatives.reduce<unknown>((v, alt) => dropRepeatedItems(v, alt, root, depth + 1), value);
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => dropRepeatedItems(item, schema.items, root, depth + 1));
    if (schema.uniqueItems !== true) return items;
    const seen = new Set<string>();
    return items.filter((item) => {
      const key = JSON.stringify(item);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
  if (isNode(value) && isNode(schema.properties)) {
    const properties = schema.properties;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k in properties ? dropRepeatedItems(v, properties[k], root, depth + 1) : v,
      ]),
    );
  }
  return value;
}
