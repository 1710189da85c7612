import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { strictSchemaProblems } from '@llmbus/models';
import { parseDocument } from 'yaml';
import { readClassifierExamples } from './classifier-examples';
import { WorkflowLoadError } from './errors';
import { describeInstancePath, pathSegments } from './field-path';
import { compileWorkflowSchema } from './schema-errors';
import { placeholdersOf } from './template';
import type { JsonSchema, LoadedWorkflow, WorkflowDefinition } from './workflow-definition';
import { WORKFLOW_FILE_SCHEMA } from './workflow-file-schema';

/** The repository's `workflows/` folder (this file sits in libs/workflows/{src,dist}). */
export const DEFAULT_WORKFLOWS_DIR = resolve(__dirname, '..', '..', '..', 'workflows');

const fileAjv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
addFormats(fileAjv);
const validateFile = fileAjv.compile(WORKFLOW_FILE_SCHEMA);
const FILE_NAME = /^(.+)\.v(\d+)\.ya?ml$/;

/** Parses and checks one workflow document; `source` names the file in every error. */
export function parseWorkflowDocument(text: string, source: string): LoadedWorkflow {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new WorkflowLoadError(
      source,
      document.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0]}`),
    );
  }
  const plain: unknown = document.toJS();
  if (!validateFile(plain)) {
    throw new WorkflowLoadError(source, describeFileErrors(validateFile.errors));
  }
  const definition = plain as unknown as WorkflowDefinition;
  const problems = semanticProblems(definition);
  if (problems.length > 0) throw new WorkflowLoadError(source, problems);
  if (!definition.classify) return { ...definition, source };
  // Read only once the file itself is sound, so a bad file reports its own problems first.
  const { examples, problems: exampleProblems } = readClassifierExamples(definition, source);
  if (exampleProblems.length > 0) throw new WorkflowLoadError(source, exampleProblems);
  return { ...definition, source, classifierExamples: examples };
}

/**
 * Loads every `<id>.v<version>.yaml` in a folder. Any bad file stops the load with an error naming
 * the file and the field, so a stage never starts with a half-understood workflow set.
 */
export function loadWorkflowDirectory(dir: string): LoadedWorkflow[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort();
  } catch (error) {
    throw new WorkflowLoadError(dir, [
      `cannot read the workflows folder (${(error as Error).message}); set LLMBUS_WORKFLOWS_DIR to a folder of workflow YAML files`,
    ]);
  }
  if (names.length === 0) throw new WorkflowLoadError(dir, ['no workflow files (*.yaml) found']);
  return names.map((name) => {
    const path = join(dir, name);
    const workflow = parseWorkflowDocument(readFileSync(path, 'utf8'), path);
    const expected = `${workflow.id}.v${workflow.version}`;
    const match = FILE_NAME.exec(basename(name));
    if (!match || `${match[1]}.v${match[2]}` !== expected) {
      throw new WorkflowLoadError(path, [`file name must be ${expected}.yaml to match its id and version`]);
    }
    return workflow;
  });
}

function describeFileErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  const lines = (errors ?? [])
    // `if` failures only repeat what the `then` branch already said.
    .filter((error) => error.keyword !== 'if')
    .map((error) => {
      const path = describeInstancePath('', error.instancePath).replace(/^\./, '') || '(document)';
      switch (error.keyword) {
        case 'required':
          return `${path === '(document)' ? '' : `${path}.`}${String(error.params['missingProperty'])}: is required`;
        case 'additionalProperties':
          return `${path === '(document)' ? '' : `${path}.`}${String(error.params['additionalProperty'])}: is not a known field`;
        case 'enum':
          return `${path}: must be one of ${(error.params['allowedValues'] as unknown[]).join(', ')}`;
        case 'minProperties':
        case 'maxProperties':
          return `${path}: must have exactly one operator (equals, in, exists or matches)`;
        case 'anyOf':
          return `${path}: a match rule needs eventType or when`;
        default:
          return `${path}: ${error.message ?? 'is invalid'}`;
      }
    });
  return [...new Set(lines)];
}

function semanticProblems(workflow: WorkflowDefinition): string[] {
  const problems: string[] = [];
  for (const part of ['input', 'output'] as const) {
    try {
      compileWorkflowSchema(workflow[part].schema);
    } catch (error) {
      problems.push(`${part}.schema: not a valid JSON Schema (${(error as Error).message})`);
    }
    if (workflow[part].schema['type'] !== 'object') problems.push(`${part}.schema.type: must be "object"`);
  }
  for (const name of placeholdersOf(workflow.retrieval.query)) {
    if (!name.startsWith('input.'))
      problems.push(`retrieval.query: placeholder {{${name}}} must start with "input."`);
  }
  const reference = workflow.retrieval.document;
  if (reference && reference.field === reference.into)
    problems.push('retrieval.document: field and into must name different input fields');
  const classified = workflow.classify !== undefined;
  for (const part of ['system', 'user'] as const) {
    for (const name of placeholdersOf(workflow.prompt[part])) {
      if (name === 'passages' && part === 'user') continue;
      if (classified && CLASSIFICATION_PLACEHOLDERS.includes(name)) continue;
      if (!name.startsWith('input.')) {
        problems.push(
          `prompt.${part}: placeholder {{${name}}} must be {{input.<field>}}${part === 'user' ? ' or {{passages}}' : ''}${classified ? ` or one of ${CLASSIFICATION_PLACEHOLDERS.map((n) => `{{${n}}}`).join(', ')}` : ''}`,
        );
      }
    }
  }
  problems.push(...classificationProblems(workflow));
  const passageSlots = placeholdersOf(workflow.prompt.user).filter((n) => n === 'passages').length;
  if (passageSlots !== 1 && workflow.retrieval.topK > 0) {
    problems.push('prompt.user: must contain {{passages}} exactly once, where the retrieved passages go');
  }
  if (workflow.model.id !== undefined && workflow.model.cascade !== undefined) {
    problems.push(
      'model.cascade: a workflow that pins model.id cannot cascade across tiers; remove one of them',
    );
  }
  const output = workflow.output.schema;
  // The output schema goes to OpenAI-compatible models in strict structured-output mode, which
  // refuses every call whose schema it cannot take. Optional properties and validation-only
  // keywords are adapted per request; the rest must change here, where it is cheap to see.
  for (const problem of strictSchemaProblems(output)) {
    problems.push(
      `output.schema${problem.path === '' ? '' : `.${problem.path}`}: ${problem.message} (OpenAI strict structured outputs)`,
    );
  }
  workflow.validation.rules.forEach((rule, i) => {
    if (!schemaHasPath(output, rule.field))
      problems.push(`validation.rules[${i}].field: ${rule.field} is not a property of output.schema`);
  });
  const citations = workflow.validation.citations;
  if (citations && !schemaHasPath(output, citations.field)) {
    problems.push(`validation.citations.field: ${citations.field} is not a property of output.schema`);
  }
  const confidence = workflow.validation.confidence;
  if (confidence && confidence.retry > confidence.accept) {
    problems.push(
      `validation.confidence: retry (${confidence.retry}) must not exceed accept (${confidence.accept})`,
    );
  }
  if (confidence?.selfReport && !schemaHasPath(output, confidence.selfReport)) {
    problems.push(
      `validation.confidence.selfReport: ${confidence.selfReport} is not a property of output.schema`,
    );
  }
  workflow.validation.forceReview?.forEach((condition, i) => {
    if (!condition.field.startsWith('classification.') && !schemaHasPath(output, condition.field))
      problems.push(
        `validation.forceReview[${i}].field: ${condition.field} is not a property of output.schema`,
      );
  });
  const abstention = workflow.validation.abstention;
  if (abstention && !schemaHasPath(output, abstention.field))
    problems.push(`validation.abstention.field: ${abstention.field} is not a property of output.schema`);
  workflow.verify?.sources?.forEach((source, i) => {
    if (!schemaHasPath(workflow.input.schema, source))
      problems.push(`verify.sources[${i}]: ${source} is not a property of input.schema`);
  });
  workflow.verify?.references?.forEach((field, i) => {
    if (!schemaHasPath(output, field))
      problems.push(`verify.references[${i}]: ${field} is not a property of output.schema`);
  });
  for (const collection of Object.keys(workflow.retrieval.priorities ?? {})) {
    if (!workflow.retrieval.collections.includes(collection))
      problems.push(`retrieval.priorities.${collection}: not one of retrieval.collections`);
  }
  const truncate = workflow.prompt.truncateField;
  if (truncate && !schemaHasPath(workflow.input.schema, truncate)) {
    problems.push(`prompt.truncateField: ${truncate} is not a property of input.schema`);
  }
  return problems;
}

/** Prompt placeholders a workflow with a classifier step may use. */
const CLASSIFICATION_PLACEHOLDERS = ['classification.label', 'classification.score'];
const CLASSIFICATION_FIELDS = ['classification.label', 'classification.score', 'classification.method'];

/** Checks of `classify:` and of every field that reads the classification it produces. */
function classificationProblems(workflow: WorkflowDefinition): string[] {
  const problems: string[] = [];
  const classify = workflow.classify;
  const needs = (where: string, field: string) => {
    if (!classify) problems.push(`${where}: ${field} needs a classify: step in this workflow`);
    else if (!CLASSIFICATION_FIELDS.includes(field))
      problems.push(`${where}: ${field} must be one of ${CLASSIFICATION_FIELDS.join(', ')}`);
  };
  workflow.match.forEach((rule, i) =>
    rule.when?.forEach((condition, j) => {
      if (condition.field.startsWith('classification.'))
        needs(`match[${i}].when[${j}].field`, condition.field);
    }),
  );
  workflow.validation.forceReview?.forEach((condition, i) => {
    if (condition.field.startsWith('classification.'))
      needs(`validation.forceReview[${i}].field`, condition.field);
  });
  workflow.validation.rules.forEach((rule, i) => {
    if (rule.rule === 'matchesClassification' && !classify)
      problems.push(`validation.rules[${i}]: matchesClassification needs a classify: step in this workflow`);
  });
  if (!classify) return problems;
  for (const name of placeholdersOf(classify.text)) {
    if (!name.startsWith('input.'))
      problems.push(`classify.text: placeholder {{${name}}} must start with "input."`);
  }
  if (classify.examples?.split('/').includes('..'))
    problems.push(`classify.examples: ${classify.examples} must not leave the workflow's folder ("..")`);
  if (classify.method === 'model' && classify.k !== undefined)
    problems.push('classify.k: only the knn method uses neighbours; remove k or use method: knn');
  if (classify.method === 'knn' && classify.tier !== undefined)
    problems.push(
      'classify.tier: only the model method calls a chat model; remove tier or use method: model',
    );
  return problems;
}

/**
 * Whether `root.a.b` names a property declared (through `properties`) in the schema; an array
 * step goes through its `items` (`output.clauses.deviation` for an array of clause objects).
 */
function schemaHasPath(schema: JsonSchema, path: string): boolean {
  let current: JsonSchema | undefined = schema;
  for (const segment of pathSegments(path).slice(1)) {
    while (current?.['type'] === 'array' && typeof current['items'] === 'object')
      current = current['items'] as JsonSchema;
    const properties: unknown = current?.['properties'];
    if (typeof properties !== 'object' || properties === null) return false;
    current = (properties as Record<string, JsonSchema | undefined>)[segment];
    if (current === undefined) return false;
  }
  return true;
}
