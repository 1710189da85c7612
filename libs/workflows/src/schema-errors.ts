import Ajv, { type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { describeInstancePath } from './field-path';

/**
 * The ajv instance for workflow-declared schemas. Unknown keywords fail (a typo in a schema must
 * not silently validate nothing); type-strictness warnings are off because they only log.
 */
export function createSchemaAjv(options: Options = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    ...options,
  });
  addFormats(ajv);
  return ajv;
}

let sharedAjv: Ajv | undefined;
const compiled = new WeakMap<object, ValidateFunction>();

/**
 * The validator of a workflow-declared schema (createSchemaAjv's rules), compiled once per schema
 * object by one ajv the loader, the registry and the output validator share: a process compiled
 * each workflow's input and output schemas twice at start-up and once per ajv before (with one
 * ajv per workflow). Schemas are not registered by `$id`, so two workflows may use the same one.
 * Throws ajv's error when `schema` is not a valid JSON Schema.
 */
export function compileWorkflowSchema(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    sharedAjv ??= createSchemaAjv({ addUsedSchema: false });
    validate = sharedAjv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Turns ajv errors into `path: what is wrong` lines rooted at `root` (e.g. `input.customer.email: must match format "email"`). */
export function describeSchemaErrors(
  root: string,
  errors: readonly ErrorObject[] | null | undefined,
): string[] {
  const lines = (errors ?? []).map((error) => {
    const path = describeInstancePath(root, error.instancePath);
    switch (error.keyword) {
      case 'required':
        return `${path}.${String(error.params['missingProperty'])}: is required`;
      case 'additionalProperties':
        return `${path}.${String(error.params['additionalProperty'])}: is not allowed`;
      case 'enum':
        return `${path}: must be one of ${(error.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      default:
        return `${path}: ${error.message ?? 'is invalid'}`;
    }
  });
  return [...new Set(lines)];
}
