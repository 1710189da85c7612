import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { EnvelopeAttributes } from './envelope';
import type { EventDefinition } from './event-definition';
import { describeUnstorableText, findUnstorableText } from './text';

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
 */
export function validatePayload<P extends object>(
  definition: EventDefinition<P>,
  plain: unknown,
): Validated<P> {
  return validateInto(definition.payload, plain, true);
}

/** Validates envelope attributes read from headers, with the same text rule as payloads. */
export function validateAttributes(plain: Record<string, unknown>): Validated<EnvelopeAttributes> {
  return validateInto(EnvelopeAttributes, plain, false);
}
