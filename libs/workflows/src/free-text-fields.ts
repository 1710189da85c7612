import type { JsonSchema } from './workflow-definition';

/** A string found in an output, with its path (`output.reply`, `output.clauses[2].text`). */
export interface OutputText {
  readonly path: string;
  readonly text: string;
  /** Whether the schema requires the property (an empty required text says nothing). */
  readonly required: boolean;
}

const CLOSED_STRING_KEYWORDS = ['enum', 'const', 'format', 'pattern'];

/**
 * The free-text values of an output: strings whose schema has no `enum`, `const`, `format` or
 * `pattern` (those are labels and identifiers, not prose), found through `properties` and `items`.
 * Paths listed in `skip` (e.g. the citations field) are left out with everything under them.
 */
export function freeTextValues(
  schema: JsonSchema,
  value: unknown,
  skip: ReadonlySet<string> = new Set(),
  path = 'output',
  required = true,
): OutputText[] {
  if (skip.has(path)) return [];
  if (typeof value === 'string') {
    const closed = CLOSED_STRING_KEYWORDS.some((k) => schema[k] !== undefined);
    return isStringSchema(schema) && !closed ? [{ path, text: value, required }] : [];
  }
  if (Array.isArray(value)) {
    const items = asSchema(schema['items']);
    return items ? value.flatMap((v, i) => freeTextValues(items, v, skip, `${path}[${i}]`, true)) : [];
  }
  if (typeof value === 'object' && value !== null) {
    const properties = asSchema(schema['properties']) ?? {};
    const requiredKeys = Array.isArray(schema['required']) ? (schema['required'] as unknown[]) : [];
    return Object.entries(value).flatMap(([key, child]) => {
      const childSchema = asSchema(properties[key]);
      return childSchema
        ? freeTextValues(childSchema, child, skip, `${path}.${key}`, requiredKeys.includes(key))
        : [];
    });
  }
  return [];
}

/** Every string value of an output with its path, whatever its schema; paths in `skip` are left out. */
export function stringValues(
  value: unknown,
  skip: ReadonlySet<string> = new Set(),
  path = 'output',
): OutputText[] {
  if (skip.has(path)) return [];
  if (typeof value === 'string') return [{ path, text: value, required: false }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringValues(v, skip, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([key, child]) => stringValues(child, skip, `${path}.${key}`));
  return [];
}

/** The `description` texts of a schema and all its subschemas: instructions the output must not echo. */
export function schemaDescriptions(schema: unknown): string[] {
  if (Array.isArray(schema)) return schema.flatMap(schemaDescriptions);
  if (typeof schema !== 'object' || schema === null) return [];
  return Object.entries(schema).flatMap(([key, child]) =>
    key === 'description' && typeof child === 'string' ? [child] : schemaDescriptions(child),
  );
}

function isStringSchema(schema: JsonSchema): boolean {
  const type = schema['type'];
  return type === undefined || type === 'string' || (Array.isArray(type) && type.includes('string'));
}

function asSchema(value: unknown): JsonSchema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonSchema)
    : undefined;
}
