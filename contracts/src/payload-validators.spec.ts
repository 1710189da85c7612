import {
  ContextRetrievedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
} from './index';
import type { EventDefinition } from './event-definition';
import { attributesSchemaValidator, payloadSchemaValidator } from './payload-validators';
import { samplePayloads } from './testing/sample-payloads';
import { findUnstorableText } from './text';
import {
  validateAttributes,
  validateAttributesWithDecorators,
  validatePayload,
  validatePayloadWithDecorators,
} from './validation';

const samples = samplePayloads(2);
const cases: ReadonlyArray<[EventDefinition, object]> = [
  [RequestSubmittedEvent, samples.RequestSubmitted],
  [RequestRoutedEvent, samples.RequestRouted],
  [ContextRetrievedEvent, samples.ContextRetrieved],
  [ResponseGeneratedEvent, samples.ResponseGenerated],
  [RequestFailedEvent, samples.RequestFailed],
];

type Path = ReadonlyArray<string | number>;

/** Every path into a JSON value, the root included. */
function pathsOf(value: unknown, path: Path = []): Path[] {
  const inner =
    typeof value === 'object' && value !== null
      ? Object.entries(value).flatMap(([key, v]) =>
          pathsOf(v, [...path, Array.isArray(value) ? Number(key) : key]),
        )
      : [];
  return [path, ...inner];
}

/** A deep copy with the value at `path` replaced, or removed when `replacement` is `REMOVE`. */
const REMOVE = Symbol('remove');
function mutate(value: object, path: Path, replacement: unknown): object {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (replacement === REMOVE) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    parent[last] = replacement;
  }
  return copy;
}

const REPLACEMENTS: readonly unknown[] = [
  REMOVE,
  null,
  0,
  -1,
  1.5,
  2_000_000,
  '',
  'ACME!',
  'x'.repeat(600),
  'x'.repeat(2100),
  'a\u0000b',
  true,
  [],
  ['x'],
  {},
  { unexpected: 1 },
];

describe('payload validation compiled from the contract JSON Schemas', () => {
  it.each(cases.map(([definition, sample]) => [definition.type, definition, sample] as const))(
    'accepts the valid %s sample and returns the parsed object itself',
    (_type, definition, sample) => {
      expect(validatePayloadWithDecorators(definition, sample)).toMatchObject({ ok: true });
      const result = validatePayload(definition, sample);
      expect(result).toEqual({ ok: true, value: sample });
      expect(result.ok && result.value).toBe(sample);
    },
  );

  it.each(cases.map(([definition, sample]) => [definition.type, definition, sample] as const))(
    'never accepts a %s that the payload class decorators refuse, and gives their verdict and messages',
    (_type, definition, sample) => {
      const schema = payloadSchemaValidator(definition.type)!;
      const disagreements: string[] = [];
      for (const path of pathsOf(sample).filter((p) => p.length > 0)) {
        for (const replacement of REPLACEMENTS) {
          const mutated = mutate(sample, path, replacement);
          const decorators = validatePayloadWithDecorators(definition, mutated);
          const result = validatePayload(definition, mutated);
          const label = `${path.join('.')} = ${replacement === REMOVE ? '(removed)' : JSON.stringify(replacement)}`;
          // Storable text is checked beside the schema (it cannot say it): compare where that holds.
          const storable = findUnstorableText(mutated).length === 0;
          if (storable && schema(mutated) && !decorators.ok) disagreements.push(`schema accepts ${label}`);
          if (result.ok !== decorators.ok) disagreements.push(`verdict differs for ${label}`);
          if (!result.ok && !decorators.ok && result.errors.join() !== decorators.errors.join()) {
            disagreements.push(`messages differ for ${label}`);
          }
        }
      }
      expect(disagreements).toEqual([]);
    },
  );

  it('never accepts envelope attributes that the EnvelopeAttributes decorators refuse, and gives their verdict and messages', () => {
    const attributes = {
      id: 'evt-1',
      source: '/llmbus/router',
      type: RequestRoutedEvent.type,
      specversion: '1.0',
      time: '2026-01-01T12:00:00.000Z',
      subject: 'ticket',
      correlationid: 'req-1',
      causationid: 'evt-0',
      tenantid: 'acme',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      schemaversion: 1,
      attempt: 1,
      vendorextension: 'kept',
    };
    const schema = attributesSchemaValidator();
    const disagreements: string[] = [];
    for (const path of pathsOf(attributes).filter((p) => p.length > 0)) {
      for (const replacement of [...REPLACEMENTS, '2026-01-01', '2026-13-01T00:00:00Z', 'Mon, 01 Jan 2026']) {
        const mutated = mutate(attributes, path, replacement) as Record<string, unknown>;
        const decorators = validateAttributesWithDecorators(mutated);
        const result = validateAttributes(mutated);
        const label = `${path.join('.')} = ${replacement === REMOVE ? '(removed)' : JSON.stringify(replacement)}`;
        const storable = findUnstorableText(mutated).length === 0;
        if (storable && schema(mutated) && !decorators.ok) disagreements.push(`schema accepts ${label}`);
        if (result.ok !== decorators.ok) disagreements.push(`verdict differs for ${label}`);
        if (!result.ok && !decorators.ok && result.errors.join() !== decorators.errors.join()) {
          disagreements.push(`messages differ for ${label}`);
        }
      }
    }
    expect(disagreements).toEqual([]);
    expect(validateAttributes(attributes)).toEqual({ ok: true, value: attributes });
  });

  it('refuses an unknown property and a non-object payload with the messages requesters see', () => {
    expect(validatePayload(RequestSubmittedEvent, { ...samples.RequestSubmitted, extra: 1 })).toEqual({
      ok: false,
      errors: ['extra: property extra should not exist'],
    });
    expect(validatePayload(RequestSubmittedEvent, [])).toEqual({
      ok: false,
      errors: ['payload must be a JSON object'],
    });
    expect(validatePayload(RequestSubmittedEvent, { ...samples.RequestSubmitted, input: 'x' })).toMatchObject(
      {
        ok: false,
        errors: ['input: input must be an object'],
      },
    );
  });
});
