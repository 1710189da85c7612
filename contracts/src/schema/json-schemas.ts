// class-transformer exports its metadata storage only from this internal path (no typings there).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: unknown;
};
import { getMetadataStorage } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { EVENTS } from '../catalog';

export type JsonSchema = Record<string, unknown>;

const REF_PREFIX = '#/definitions/';

/**
 * JSON Schemas (draft-07) of every event payload, derived from the class-validator decorators.
 * Keyed by CloudEvents type; each schema is self-contained (its nested classes under `definitions`).
 */
export function buildJsonSchemas(): Record<string, JsonSchema> {
  const all = validationMetadatasToSchemas({
    classTransformerMetadataStorage: defaultMetadataStorage as never,
    classValidatorMetadataStorage: getMetadataStorage(),
    refPointerPrefix: REF_PREFIX,
  }) as Record<string, JsonSchema>;
  const result: Record<string, JsonSchema> = {};
  for (const event of EVENTS) {
    const rootName = event.payload.name;
    const definitions: Record<string, JsonSchema> = {};
    const root = ownOrInheritedSchema(event.payload, all);
    collectRefs(root, all, definitions);
    result[event.type] = sortKeys({
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: `https://llmbus.dev/schemas/${event.type}.v${event.schemaVersion}.json`,
      title: rootName,
      description: event.description,
      ...root,
      additionalProperties: false,
      ...(Object.keys(definitions).length ? { definitions } : {}),
    }) as JsonSchema;
  }
  return result;
}

/**
 * The schema of a payload class: its own, or, for a class that only renames its parent (no
 * decorators of its own, e.g. `class ToolCallsRequested extends ToolLoopState {}`), the nearest
 * ancestor's. class-validator-jsonschema merges inherited decorators into a class that has some of
 * its own, but lists no entry for a class with none, which left such payloads with an empty schema
 * that (with `additionalProperties: false`) no real event could match.
 * @throws Error when neither the class nor an ancestor has a schema (a payload without decorators).
 */
function ownOrInheritedSchema(
  payload: abstract new (...args: never[]) => unknown,
  all: Record<string, JsonSchema>,
): JsonSchema {
  for (
    let cls: unknown = payload;
    typeof cls === 'function' && cls !== Function.prototype;
    cls = Object.getPrototypeOf(cls)
  ) {
    const schema = all[(cls as { name: string }).name];
    if (schema !== undefined) return schema;
  }
  throw new Error(
    `payload class ${payload.name} has no class-validator decorators, so no JSON Schema can be derived`,
  );
}

function collectRefs(node: unknown, all: Record<string, JsonSchema>, out: Record<string, JsonSchema>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectRefs(item, all, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)) {
      const name = value.slice(REF_PREFIX.length);
      if (!out[name] && all[name]) {
        out[name] = { ...all[name], additionalProperties: false };
        collectRefs(all[name], all, out);
      }
    } else {
      collectRefs(value, all, out);
    }
  }
}

/** Deep copy with object keys sorted, so generated files are stable across runs. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}
