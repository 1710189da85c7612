// OpenAI strict structured outputs accept a subset of JSON Schema: every object lists all its
// properties in `required` and sets `additionalProperties: false`, and only some keywords are
// allowed (OpenAI, "Structured Outputs", section "Supported schemas"). A schema outside the subset
// makes every call fail with 400 "Invalid schema". Workflow schemas are written for validation,
// not for one provider, so they are adapted for the request (optional → required and nullable,
// validation-only keywords dropped) and the answer is brought back (nulls of optional properties
// removed) before it is validated against the original schema. What cannot be adapted without
// changing what the schema means is reported, naming the keyword's path, so the workflow can be
// refused when it is loaded rather than on every call.
import type { JsonSchema } from './model-provider';

type Schema = Record<string, unknown>;

/** Keywords strict mode accepts and that are sent as they are. */
const KEPT = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'anyOf',
  '$ref',
  '$defs',
  'definitions',
  'description',
  'title',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
]);

/** Validation-only keywords strict mode refuses: dropped from the request, still enforced on the answer. */
const DROPPED = new Set([
  '$schema',
  '$id',
  '$comment',
  'minLength',
  'maxLength',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'contains',
  'minContains',
  'maxContains',
  'default',
  'examples',
  'readOnly',
  'writeOnly',
  'deprecated',
  'contentEncoding',
  'contentMediaType',
]);

/** String formats strict mode knows; other formats are dropped (and still checked on the answer). */
const FORMATS = new Set([
  'date-time',
  'time',
  'date',
  'duration',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'uuid',
]);

/** Keywords that hold one subschema, a map of them, or a list of them. */
const SUBSCHEMA_MAPS = ['properties', '$defs', 'definitions'] as const;

/** One construct strict mode cannot express: where it is (JSON path from the schema root) and why. */
export interface StrictSchemaProblem {
  /** e.g. `properties.tags.oneOf` (empty for the root). */
  readonly path: string;
  readonly message: string;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * What in `schema` strict structured outputs cannot take even after adaptation: keywords outside
 * the subset that change what the schema accepts (`oneOf`, `allOf`, `not`, `if`,
 * `patternProperties`, …), objects that allow additional properties, a root that is not an object.
 * An empty list means `adaptSchemaForStrictMode` produces a schema strict mode accepts.
 */
export function strictSchemaProblems(schema: JsonSchema): StrictSchemaProblem[] {
  const problems: StrictSchemaProblem[] = [];
  if (schema['type'] !== 'object')
    problems.push({ path: '', message: 'the root must be `type: object` for strict structured outputs' });
  collectProblems(schema, '', problems);
  return problems;
}

function collectProblems(schema: Schema, path: string, problems: StrictSchemaProblem[]): void {
  for (const [keyword, value] of Object.entries(schema)) {
    const at = join(path, keyword);
    if (keyword.startsWith('x-')) continue;
    if (!KEPT.has(keyword) && !DROPPED.has(keyword)) {
      problems.push({
        path: at,
        message:
          keyword === 'oneOf'
            ? '`oneOf` is not supported by strict structured outputs; use `anyOf`'
            : `\`${keyword}\` is not supported by strict structured outputs; express it with type, properties, items, enum, const or anyOf`,
      });
      continue;
    }
    if (keyword === 'additionalProperties' && value !== false) {
      problems.push({
        path: at,
        message: 'strict structured outputs need `additionalProperties: false`; list every property instead',
      });
    }
  }
  const isObject =
    schema['type'] === 'object' || (Array.isArray(schema['type']) && schema['type'].includes('object'));
  if (isObject && !isSchema(schema['properties']) && !('$ref' in schema)) {
    problems.push({
      path,
      message:
        'an object needs `properties` for strict structured outputs (a free-form object is not allowed)',
    });
  }
  forEachSubschema(schema, path, (child, childPath) => collectProblems(child, childPath, problems));
}

function forEachSubschema(schema: Schema, path: string, visit: (child: Schema, path: string) => void): void {
  for (const keyword of SUBSCHEMA_MAPS) {
    const map = schema[keyword];
    if (!isSchema(map)) continue;
    for (const [name, child] of Object.entries(map))
      if (isSchema(child)) visit(child, join(path, `${keyword}.${name}`));
  }
  if (isSchema(schema['items'])) visit(schema['items'], join(path, 'items'));
  if (Array.isArray(schema['anyOf']))
    schema['anyOf'].forEach((child, index) => {
      if (isSchema(child)) visit(child, join(path, `anyOf.${index}`));
    });
}

/** Whether `schema` already accepts `null`. */
function acceptsNull(schema: Schema): boolean {
  const type = schema['type'];
  if (type === 'null' || (Array.isArray(type) && type.includes('null'))) return true;
  if (Array.isArray(schema['enum']) && schema['enum'].includes(null)) return true;
  if ('const' in schema && schema['const'] === null) return true;
  return (
    Array.isArray(schema['anyOf']) &&
    schema['anyOf'].some((branch) => isSchema(branch) && acceptsNull(branch))
  );
}

function nullable(schema: Schema): Schema {
  if (acceptsNull(schema)) return schema;
  const type = schema['type'];
  if ((typeof type === 'string' || Array.isArray(type)) && !('const' in schema)) {
    const types: unknown[] = Array.isArray(type) ? type : [type];
    const widened: Schema = { ...schema, type: [...types, 'null'] };
    if (Array.isArray(schema['enum'])) widened['enum'] = [...(schema['enum'] as unknown[]), null];
    return widened;
  }
  return { anyOf: [schema, { type: 'null' }] };
}

/**
 * A copy of `schema` that strict structured outputs accept, for the request only: every object
 * requires all its properties (those that were optional become nullable) and forbids additional
 * ones, and validation-only keywords strict mode refuses (`maxLength`, `uniqueItems`, unknown
 * `format`s, …) are dropped. The answer is still validated against the original `schema`, after
 * `stripAdaptedNulls`. Assumes `strictSchemaProblems(schema)` is empty.
 */
export function adaptSchemaForStrictMode(schema: JsonSchema): JsonSchema {
  return adapt(schema as Schema);
}

function adapt(schema: Schema): Schema {
  const out: Schema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (DROPPED.has(keyword) || keyword.startsWith('x-')) continue;
    if (keyword === 'format' && (typeof value !== 'string' || !FORMATS.has(value))) continue;
    out[keyword] = value;
  }
  for (const keyword of SUBSCHEMA_MAPS) {
    const map = schema[keyword];
    if (!isSchema(map)) continue;
    out[keyword] = Object.fromEntries(
      Object.entries(map).map(([name, child]) => [name, isSchema(child) ? adapt(child) : child]),
    );
  }
  if (isSchema(schema['items'])) out['items'] = adapt(schema['items']);
  if (Array.isArray(schema['anyOf']))
    out['anyOf'] = schema['anyOf'].map((child) => (isSchema(child) ? adapt(child) : child));
  const properties = out['properties'];
  if (isSchema(properties)) {
    const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as unknown[]) : []);
    out['properties'] = Object.fromEntries(
      Object.entries(properties).map(([name, child]) => [
        name,
        required.has(name) || !isSchema(child) ? child : nullable(child),
      ]),
    );
    out['required'] = Object.keys(properties);
    out['additionalProperties'] = false;
  }
  return out;
}

/**
 * The answer to an adapted schema brought back to the original's shape: a `null` for a property
 * the original did not require and that does not accept null means "absent", so the key is
 * removed. Walks `properties` and `items`; values under `anyOf` and `$ref` are left as they are.
 */
export function stripAdaptedNulls(value: unknown, schema: JsonSchema): unknown {
  return strip(value, schema as Schema);
}

function strip(value: unknown, schema: Schema): unknown {
  if (Array.isArray(value))
    return isSchema(schema['items']) ? value.map((item) => strip(item, schema['items'] as Schema)) : value;
  if (!isSchema(value) || !isSchema(schema['properties'])) return value;
  const properties = schema['properties'];
  const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as unknown[]) : []);
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const childSchema = properties[key];
    if (!isSchema(childSchema)) {
      out[key] = child;
      continue;
    }
    if (child === null && !required.has(key) && !acceptsNull(childSchema)) continue;
    out[key] = strip(child, childSchema);
  }
  return out;
}
