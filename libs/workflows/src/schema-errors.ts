import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { describeInstancePath } from './field-path';

/**
 * The ajv instance for workflow-declared schemas. Unknown keywords fail (a typo in a schema must
 * not silently validate nothing); type-strictness warnings are off because they only log.
 */
export function createSchemaAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
  });
  addFormats(ajv);
  return ajv;
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
