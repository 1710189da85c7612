import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { EnvelopeAttributes } from './envelope';
import type { EventDefinition } from './event-definition';

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
  const instance = plainToInstance(cls, plain);
  const errors = validateSync(instance, {
    whitelist: forbidUnknown,
    forbidNonWhitelisted: forbidUnknown,
    forbidUnknownValues: true,
  });
  return errors.length
    ? { ok: false, errors: describeValidationErrors(errors) }
    : { ok: true, value: instance };
}

/** Validates a payload against its event definition; unknown properties are rejected. */
export function validatePayload<P extends object>(
  definition: EventDefinition<P>,
  plain: unknown,
): Validated<P> {
  return validateInto(definition.payload, plain, true);
}

/** Validates envelope attributes read from headers. */
export function validateAttributes(plain: Record<string, unknown>): Validated<EnvelopeAttributes> {
  return validateInto(EnvelopeAttributes, plain, false);
}
