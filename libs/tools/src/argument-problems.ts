import Ajv, { type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** ajv options for tool argument schemas; `strict` refuses unknown keywords (our own schemas only). */
export function argumentSchemaOptions(strict: boolean): Options {
  return { allErrors: true, strict, strictTypes: false, strictTuples: false, strictRequired: false };
}

/** True when the schema declares JSON Schema 2020-12 (MCP's default dialect); draft-07 otherwise. */
export function isDraft2020(schema: Readonly<Record<string, unknown>>): boolean {
  return String(schema['$schema'] ?? '').includes('2020-12');
}

/** ajv's errors as `arguments.field: what is wrong` lines, one per distinct problem. */
export function argumentProblemLines(errors: readonly ErrorObject[] | null | undefined): string[] {
  return [
    ...new Set(
      (errors ?? []).map((error) => {
        const path = `arguments${error.instancePath.replace(/\//g, '.')}`;
        if (error.keyword === 'required')
          return `${path}.${String(error.params['missingProperty'])}: is required`;
        if (error.keyword === 'additionalProperties')
          return `${path}.${String(error.params['additionalProperty'])}: is not allowed`;
        return `${path}: ${error.message ?? 'is invalid'}`;
      }),
    ),
  ];
}

/**
 * Checks arguments against a tool's argument JSON Schema carried outside the tool registry (the
 * schema a tool approval records), e.g. a reviewer's edited arguments before they are accepted.
 * Compiled schemas are kept by their JSON text. Unknown keywords are ignored: the schema was
 * already accepted where the tool is declared.
 */
export class ArgumentSchemaCheck {
  private readonly draft7 = addFormats(new Ajv(argumentSchemaOptions(false)));
  private readonly draft2020 = addFormats(new Ajv2020(argumentSchemaOptions(false)));
  private readonly compiled = new Map<string, ValidateFunction>();

  /**
   * Problems of `args` against `schema` (`arguments.field: what is wrong`); empty when valid.
   * Throws when the schema itself does not compile.
   */
  problems(schema: Readonly<Record<string, unknown>>, args: unknown): string[] {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (validate === undefined) {
      validate = (isDraft2020(schema) ? this.draft2020 : this.draft7).compile({ ...schema });
      if (this.compiled.size >= 256) this.compiled.clear();
      this.compiled.set(key, validate);
    }
    return validate(args) ? [] : argumentProblemLines(validate.errors);
  }
}
