import type { Passage } from '@llmbus/contracts';
import type { ValidateFunction } from 'ajv';
import { valueAt } from './field-path';
import { createSchemaAjv, describeSchemaErrors } from './schema-errors';
import type { BusinessRule, JsonSchema, WorkflowDefinition } from './workflow-definition';

export interface OutputCandidate {
  /** The parsed output, when the generator could parse one. */
  readonly output?: Readonly<Record<string, unknown>>;
  /** The raw model text; parsed here when `output` is absent. */
  readonly text: string;
}

export interface OutputValidation {
  readonly valid: boolean;
  /** One line per problem, `path: what is wrong`; empty when valid. */
  readonly violations: readonly string[];
  /** The output object, when there was one (valid or not). */
  readonly output?: Readonly<Record<string, unknown>>;
  /** Cited passage ids that were retrieved for the request (invented ones are left out). */
  readonly citations: readonly string[];
}

/**
 * Checks a model output against its workflow: the output JSON Schema, the business rules, and
 * grounding (every citation is the id of a passage retrieved for this request).
 */
export class OutputValidator {
  private readonly ajv = createSchemaAjv();
  private readonly compiled = new WeakMap<JsonSchema, ValidateFunction>();

  /** Validates one candidate output; never throws for a bad output, it reports violations. */
  validate(
    workflow: WorkflowDefinition,
    candidate: OutputCandidate,
    passages: readonly Passage[],
  ): OutputValidation {
    const output = candidate.output ?? parseObject(candidate.text);
    if (output === undefined) {
      return { valid: false, violations: ['output: the answer is not a JSON object'], citations: [] };
    }
    const validate = this.validatorFor(workflow.output.schema);
    const violations = validate(output) ? [] : describeSchemaErrors('output', validate.errors);
    const scope = { output };
    for (const rule of workflow.validation.rules) {
      const problem = checkRule(rule, valueAt(scope, rule.field));
      if (problem) violations.push(`${rule.field}: ${rule.message ?? problem}`);
    }
    const citations: string[] = [];
    const spec = workflow.validation.citations;
    if (spec) {
      const retrieved = new Set(passages.map((p) => p.id));
      const cited = valueAt(scope, spec.field);
      const list = Array.isArray(cited) ? cited : [];
      list.forEach((id, i) => {
        if (typeof id === 'string' && retrieved.has(id)) {
          if (!citations.includes(id)) citations.push(id);
        } else {
          violations.push(
            `${spec.field}[${i}]: ${JSON.stringify(id)} is not the id of a passage retrieved for this request`,
          );
        }
      });
      const min = Math.min(spec.min ?? 0, retrieved.size);
      if (citations.length < min)
        violations.push(
          `${spec.field}: cites ${citations.length} retrieved passage(s); at least ${min} required`,
        );
    }
    return { valid: violations.length === 0, violations: [...new Set(violations)], output, citations };
  }

  private validatorFor(schema: JsonSchema): ValidateFunction {
    let validate = this.compiled.get(schema);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.compiled.set(schema, validate);
    }
    return validate;
  }
}

function checkRule(rule: BusinessRule, value: unknown): string | undefined {
  switch (rule.rule) {
    case 'required':
      return isEmpty(value) ? 'must not be empty' : undefined;
    case 'forbiddenPhrases': {
      if (typeof value !== 'string') return undefined;
      const lower = value.toLowerCase();
      const found = rule.phrases.filter((phrase) => lower.includes(phrase.toLowerCase()));
      return found.length
        ? `contains forbidden phrase(s): ${found.map((p) => `"${p}"`).join(', ')}`
        : undefined;
    }
    case 'minimum':
      if (typeof value !== 'number') return `must be a number of at least ${rule.value}`;
      return value < rule.value ? `is ${value}, below the minimum of ${rule.value}` : undefined;
  }
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
