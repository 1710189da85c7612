import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { EnvelopeAttributes } from './envelope';
import type { EventDefinition } from './event-definition';
import { attributesSchemaValidator, payloadSchemaValidator } from './payload-validators';
import { describeUnstorableText, findUnstorableText, isStorableText } from './text';

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Flattens class-validator errors into `path: constraint message` lines a requester can act on. */
export function describeValidationErrors(errors: ValidationError[], parent = ''): string[] {
  const lines: string[] = [];
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) lines.push(`${path}: ${message}`);
    if (error.children?.length) lines.push(...describeValidationErrors(error.children, path));
  }
  return lines;
}

function validateInto<T extends object>(
  cls: new () => T,
  plain: unknown,
  forbidUnknown: boolean,
): Validated<T> {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    return { ok: false, errors: ['payload must be a JSON object'] };
  }
  // Text no store can hold is refused here, at every consumer's edge, naming the field.
  const unstorable = describeUnstorableText(findUnstorableText(plain));
  const instance = plainToInstance(cls, plain);
  const errors = validateSync(instance, {
    whitelist: forbidUnknown,
    forbidNonWhitelisted: forbidUnknown,
    forbidUnknownValues: true,
  });
  return errors.length || unstorable.length
    ? { ok: false, errors: [...unstorable, ...describeValidationErrors(errors)] }
    : { ok: true, value: instance };
}

/**
 * Validates a payload against its event definition; unknown properties are rejected, and so is
 * text that cannot be stored (U+0000, lone surrogates) in any string or key (see text.ts).
 *
 * The verdict comes from the event's JSON Schema, compiled once with ajv (payload-validators.ts);
 * a valid payload is returned as the parsed object itself. Only a payload that schema refuses is
 * run through the class decorators, which name every problem as `path: message` with the messages
 * the contracts declare, and which decide where the two differ: JSON Schema is stricter only
 * where class-validator lets a value pass (null for an optional field, a length counted in
 * UTF-16 units). The schema never accepts what the decorators refuse (contracts.spec.ts checks).
 */
export function validatePayload<P extends object>(
  definition: EventDefinition<P>,
  plain: unknown,
): Validated<P> {
  const schema = payloadSchemaValidator(definition.type);
  if (
    schema !== undefined &&
    typeof plain === 'object' &&
    plain !== null &&
    !Array.isArray(plain) &&
    schema(plain) &&
    isShallowStorable(plain)
  ) {
    return { ok: true, value: plain as P };
  }
  return validateInto(definition.payload, plain, true);
}

/**
 * The previous validation of every payload (class-transformer instance, then class-validator):
 * what `validatePayload` falls back to on a refused payload. Exported for the decode benchmark
 * and the schema-agreement test; consumers use `validatePayload`.
 */
export function validatePayloadWithDecorators<P extends object>(
  definition: EventDefinition<P>,
  plain: unknown,
): Validated<P> {
  return validateInto(definition.payload, plain, true);
}

/**
 * Validates envelope attributes read from headers, with the same text rule as payloads. Like
 * `validatePayload`: the compiled schema decides, the decorators describe (and decide) a refusal.
 */
export function validateAttributes(plain: Record<string, unknown>): Validated<EnvelopeAttributes> {
  if (attributesSchemaValidator()(plain) && isShallowStorable(plain)) {
    return { ok: true, value: plain as unknown as EnvelopeAttributes };
  }
  return validateInto(EnvelopeAttributes, plain, false);
}

/** The previous validation of envelope attributes (decorators only); for the decode benchmark. */
export function validateAttributesWithDecorators(
  plain: Record<string, unknown>,
): Validated<EnvelopeAttributes> {
  return validateInto(EnvelopeAttributes, plain, false);
}

/** Nesting past this many levels is left to the decorators (which refuse what overflows them). */
const FAST_PATH_DEPTH = 512;

/**
 * True when every string and key in `value` is storable text and nothing nests deeper than
 * FAST_PATH_DEPTH; iterative, and builds no paths (findUnstorableText names them when needed).
 */
function isShallowStorable(value: unknown): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (typeof current === 'string') {
      if (!isStorableText(current)) return false;
    } else if (typeof current === 'object' && current !== null) {
      if (depth >= FAST_PATH_DEPTH) return false;
      if (Array.isArray(current)) {
        for (const item of current) stack.push({ value: item, depth: depth + 1 });
      } else {
        for (const key in current) {
          if (!isStorableText(key)) return false;
          stack.push({ value: (current as Record<string, unknown>)[key], depth: depth + 1 });
        }
      }
    }
  }
  return true;
}
