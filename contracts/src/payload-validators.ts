import Ajv, { type ValidateFunction } from 'ajv';
import { isBase64, isISO8601, isUUID } from 'class-validator';
import { buildEnvelopeAttributesSchema, buildJsonSchemas, JsonSchema } from './schema/json-schemas';

/** Payload schemas by CloudEvents type, derived once. */
let schemas: Readonly<Record<string, JsonSchema>> | undefined;
/** Validators by CloudEvents type, each compiled on its type's first use (a stage reads a few types). */
const compiled = new Map<string, ValidateFunction>();
let ajv: Ajv | undefined;
let attributes: ValidateFunction | undefined;

/** The compiled validator of the CloudEvents attributes (EnvelopeAttributes), compiled once. */
export function attributesSchemaValidator(): ValidateFunction {
  ajv ??= createAjv();
  attributes ??= ajv.compile(buildEnvelopeAttributesSchema());
  return attributes;
}

/**
 * The compiled JSON Schema validator of an event type's payload, or undefined for an unknown
 * type. Compiled once per process and type, on first use (tens to hundreds of milliseconds for the
 * large payloads), from the contract schemas `buildJsonSchemas`
 * derives from the payload classes (the ones `npm run contracts:generate` writes), so the classes
 * stay the single source and the hot path runs no class-transformer or class-validator.
 */
export function payloadSchemaValidator(type: string): ValidateFunction | undefined {
  const known = compiled.get(type);
  if (known) return known;
  schemas ??= buildJsonSchemas();
  const schema = schemas[type];
  if (schema === undefined) return undefined;
  ajv ??= createAjv();
  const validator = ajv.compile(schema);
  compiled.set(type, validator);
  return validator;
}

function createAjv(): Ajv {
  return new Ajv({
    // Patterns are the payload classes' JavaScript RegExps: compile them as class-validator runs them.
    unicodeRegExp: false,
    // The first problem decides; the decorators describe them all (see validatePayload).
    allErrors: false,
    strict: true,
    strictTypes: false,
    strictRequired: false,
    // The formats the schema generator writes for @IsUUID, @IsBase64 and @IsISO8601, checked by
    // the same code as the decorators.
    formats: {
      // @IsISO8601 is written as oneOf [format date, format date-time]. isISO8601 (date-time here)
      // accepts dates too, so `date` matches nothing and the oneOf holds exactly when it does.
      'date-time': { type: 'string', validate: (value: string) => isISO8601(value) },
      date: { type: 'string', validate: () => false },
      uuid: { type: 'string', validate: (value: string) => isUUID(value) },
      base64: { type: 'string', validate: (value: string) => isBase64(value) },
    },
  });
}
