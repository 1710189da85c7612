import { truncateText } from '@llmbus/contracts';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { LRUCache } from 'lru-cache';
import { ModelError } from './model-error';
import type { JsonSchema, ToolDefinition } from './model-provider';

const ajv = new Ajv({ strict: false, allErrors: false });
addFormats(ajv);
/** Fast path: the same schema object as before (a workflow's schema held by its registry). */
const validators = new WeakMap<JsonSchema, ValidateFunction>();
/**
 * By content: a schema that arrives inside each event is a new object every time, and compiling
 * it cost more CPU than anything else the generator did per request. Bounded by schema count.
 */
const validatorsByContent = new LRUCache<string, ValidateFunction>({ max: 500 });

export interface OutputContext {
  readonly provider: string;
  readonly modelId: string;
}

function validatorFor(schema: JsonSchema, what: string, context: OutputContext): ValidateFunction {
  let validate = validators.get(schema);
  if (validate !== undefined) return validate;
  const content = JSON.stringify(schema);
  validate = validatorsByContent.get(content);
  if (validate === undefined) {
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      throw new ModelError('bad_request', `${what} is not a valid JSON Schema: ${(error as Error).message}`, {
        ...context,
        cause: error,
      });
    } finally {
      // Ajv keeps every schema object it compiled; this cache is the one that holds them (bounded).
      ajv.removeSchema(schema);
    }
    validatorsByContent.set(content, validate);
  }
  validators.set(schema, validate);
  return validate;
}

/** Checks a JSON Schema compiles, so a bad schema fails as `bad_request` before any tokens are spent. */
export function assertValidSchema(schema: JsonSchema, what: string, context: OutputContext): void {
  validatorFor(schema, what, context);
}

function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .map(
      (error) =>
        `${error.instancePath === '' ? '(root)' : error.instancePath} ${error.message ?? 'is invalid'}`,
    )
    .join('; ');
}

function excerpt(text: string): string {
  return text.length > 200 ? `${truncateText(text, 200)}…` : text;
}

// One Markdown code fence (``` or ~~~, optionally tagged json), possibly with prose around it.
const FENCE =
  /(?:^|\n)[ \t]*(`{3,}|~{3,})[ \t]*(?:json|JSON|jsonc)?[ \t]*\r?\n([\s\S]*?)\s*\1[ \t]*(?=\r?\n|$)/g;

/**
 * The JSON text inside the answer's only fenced code block, or undefined when the answer has no
 * fence or more than one (which of several blocks was meant is a guess we do not make).
 */
export function fencedJson(text: string): string | undefined {
  const blocks = [...text.matchAll(FENCE)];
  return blocks.length === 1 ? blocks[0][2] : undefined;
}

/**
 * Parses model output as JSON and validates it against `schema`; failures are `malformed_output`.
 * Models without structured outputs often wrap the JSON in a Markdown fence (```json … ```),
 * sometimes after a sentence of prose: an answer that is not JSON itself but holds exactly one
 * fenced block is parsed from that block, then validated like any other.
 */
export function parseStructuredOutput(
  text: string,
  schema: JsonSchema,
  schemaName: string,
  context: OutputContext,
  /** Applied to the parsed value before validation (e.g. `stripAdaptedNulls` after a strict-mode request). */
  restore: (value: unknown) => unknown = (value) => value,
): unknown {
  let value: unknown;
  try {
    value = restore(parseJsonOrFenced(text));
  } catch (error) {
    throw new ModelError(
      'malformed_output',
      `model output for schema "${schemaName}" is not valid JSON (${(error as Error).message}): ${excerpt(text)}`,
      { ...context, cause: error },
    );
  }
  const validate = validatorFor(schema, `responseSchema "${schemaName}"`, context);
  if (!validate(value)) {
    throw new ModelError(
      'malformed_output',
      `model output does not match schema "${schemaName}": ${describeErrors(validate)}`,
      context,
    );
  }
  return value;
}

function parseJsonOrFenced(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const fenced = fencedJson(text);
    if (fenced === undefined) throw error;
    return JSON.parse(fenced);
  }
}

/** Parses and validates a tool call's arguments against the tool's parameter schema. */
export function parseToolArguments(
  raw: string | Readonly<Record<string, unknown>>,
  tool: ToolDefinition,
  context: OutputContext,
): Record<string, unknown> {
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch (error) {
      throw new ModelError(
        'malformed_output',
        `arguments of tool call "${tool.name}" are not valid JSON (${(error as Error).message}): ${excerpt(raw)}`,
        { ...context, cause: error },
      );
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelError(
      'malformed_output',
      `arguments of tool call "${tool.name}" are not a JSON object`,
      context,
    );
  }
  const validate = validatorFor(tool.parameters, `parameters of tool "${tool.name}"`, context);
  if (!validate(value)) {
    throw new ModelError(
      'malformed_output',
      `arguments of tool call "${tool.name}" do not match its parameters: ${describeErrors(validate)}`,
      context,
    );
  }
  return value as Record<string, unknown>;
}

/** Finds the requested tool by name or fails with `malformed_output` (the model named a tool it was not offered). */
export function findTool(
  tools: readonly ToolDefinition[],
  name: string,
  context: OutputContext,
): ToolDefinition {
  const tool = tools.find((candidate) => candidate.name === name);
  if (tool === undefined) {
    throw new ModelError(
      'malformed_output',
      `model called tool "${name}", which was not offered (offered: ${tools.map((t) => t.name).join(', ') || 'none'})`,
      context,
    );
  }
  return tool;
}
