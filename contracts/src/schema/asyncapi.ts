import { EVENTS, eventTypesOnTopic } from '../catalog';
import { CE_HEADER_PREFIX, PII_ATTESTATION_HEADER, TENANT_PATTERN, UNKNOWN_TENANT } from '../envelope';
import { TOPICS } from '../topics';
import { buildJsonSchemas, sortKeys, type JsonSchema } from './json-schemas';

const DEFINITIONS_PREFIX = '#/definitions/';
const COMPONENT_SCHEMAS_PREFIX = '#/components/schemas/';

function channelId(topic: string): string {
  return topic.replace(/[^A-Za-z0-9]+/g, '_');
}

function messageId(type: string): string {
  return type.replace(/[^A-Za-z0-9]+/g, '_');
}

/**
 * The binary-mode headers as consumers check them (EnvelopeAttributes and decodeEvent): every
 * attribute they refuse to miss is required, with the value constraints a producer must meet.
 */
const HEADERS_SCHEMA = {
  type: 'object',
  required: [
    'ce_id',
    'ce_source',
    'ce_type',
    'ce_specversion',
    'ce_time',
    'ce_correlationid',
    'ce_tenantid',
    'ce_schemaversion',
  ],
  properties: Object.fromEntries(
    (
      [
        ['id', 'Event id; consumers de-duplicate on it.'],
        ['source', 'Producer URI-reference.'],
        ['type', 'CloudEvents type.'],
        ['specversion', 'Always 1.0.', { enum: ['1.0'] }],
        ['time', 'RFC 3339 timestamp.'],
        ['subject', 'Optional subject.'],
        [
          'correlationid',
          'The request or document the event belongs to; on llmbus.request.submitted, its requestId.',
        ],
        ['causationid', 'Id of the event that caused this one.'],
        [
          'tenantid',
          `Tenant that owns the event; llmbus writes ${UNKNOWN_TENANT} on the dead letter and RequestFailed of an event without a usable tenant.`,
          { pattern: `^(?:${UNKNOWN_TENANT}|${TENANT_PATTERN.source.slice(1, -1)})$` },
        ],
        ['traceparent', 'W3C trace context.'],
        [
          'schemaversion',
          `Major payload schema version of the message's type (${[...new Set(EVENTS.map((e) => e.schemaVersion))].join(', ')} for the types described here); consumers dead-letter any other version.`,
          { pattern: '^[1-9][0-9]*$' },
        ],
        ['attempt', 'Attempt of the producing stage.'],
      ] as const satisfies readonly (readonly [string, string, object?])[]
    )
      .map(([name, description, constraints]): [string, object] => [
        `${CE_HEADER_PREFIX}${name}`,
        { type: 'string', description, ...constraints },
      ])
      .concat([
        [
          PII_ATTESTATION_HEADER,
          {
            type: 'string',
            description:
              'Optional, between llmbus stages only: the person names the producing stage found in lines of text it handled, ' +
              'as HMAC-SHA256 digests of those lines under a key derived from LLMBUS_PII_KEY (no one without it can test a ' +
              'guess of a line) with their spans (never the text), authenticated with HMAC-SHA256 under another key derived ' +
              'from LLMBUS_PII_KEY. A stage reuses an answer only when the header verifies and names its own detector ' +
              'configuration, and tags the text itself otherwise; a producer outside llmbus has no reason to set it.',
          },
        ],
      ]),
  ),
};

/** A deep copy whose `#/definitions/X` references point at `#/components/schemas/X` instead. */
function pointRefsAtComponents(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(pointRefsAtComponents);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith(DEFINITIONS_PREFIX)
        ? COMPONENT_SCHEMAS_PREFIX + value.slice(DEFINITIONS_PREFIX.length)
        : pointRefsAtComponents(value),
    ]),
  );
}

/**
 * Moves a payload schema's nested classes (`definitions`) into the shared `components.schemas`
 * and returns the payload without them. In an AsyncAPI document a `#/definitions/X` reference
 * resolves against the document root, where no `definitions` exist (`@asyncapi/parser` reports
 * `invalid-ref`), so every reference is rewritten to the shared copy. Nested classes are keyed by
 * class name and derived from one metadata store, so two payloads naming the same class share
 * one schema; a name clash with a different shape throws.
 */
function hoistDefinitions(schema: JsonSchema, shared: Record<string, unknown>): JsonSchema {
  // $schema and $id belong to the standalone files; inside the document they would rebase refs.
  const { $schema: _schema, $id: _id, definitions, ...payload } = schema;
  for (const [name, definition] of Object.entries((definitions ?? {}) as Record<string, unknown>)) {
    const hoisted = pointRefsAtComponents(definition);
    const existing = shared[name];
    if (existing !== undefined && JSON.stringify(sortKeys(existing)) !== JSON.stringify(sortKeys(hoisted))) {
      throw new Error(
        `two payload classes nest different schemas named "${name}": rename one so the AsyncAPI components stay unambiguous`,
      );
    }
    shared[name] = hoisted;
  }
  return pointRefsAtComponents(payload) as JsonSchema;
}

/** The AsyncAPI 3.0 document of every topic and message, generated from the contracts. */
export function buildAsyncApi(): Record<string, unknown> {
  const schemas = buildJsonSchemas();
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const componentSchemas: Record<string, unknown> = { CloudEventHeaders: HEADERS_SCHEMA };
  for (const event of EVENTS) {
    const payload = hoistDefinitions(schemas[event.type], componentSchemas);
    messages[messageId(event.type)] = {
      name: event.type,
      title: event.payload.name,
      summary: event.description,
      contentType: 'application/json',
      headers: { $ref: '#/components/schemas/CloudEventHeaders' },
      payload: { schemaFormat: 'application/schema+json;version=draft-07', schema: payload },
      bindings: {
        kafka: { key: { type: 'string', description: 'Request id (document id for ingestion).' } },
      },
    };
  }
  for (const topic of TOPICS) {
    const id = channelId(topic.name);
    const types = eventTypesOnTopic(topic.name);
    channels[id] = {
      address: topic.name,
      description: topic.description,
      messages: Object.fromEntries(
        types.map((t) => [messageId(t), { $ref: `#/components/messages/${messageId(t)}` }]),
      ),
      bindings: {
        kafka: {
          partitions: topic.partitions,
          topicConfiguration: { 'cleanup.policy': [topic.cleanupPolicy], 'retention.ms': topic.retentionMs },
        },
      },
    };
    operations[`publish_${id}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${id}` },
      messages: types.map((t) => ({ $ref: `#/channels/${id}/messages/${messageId(t)}` })),
    };
  }
  return sortKeys({
    asyncapi: '3.0.0',
    info: {
      title: 'llmbus event contracts',
      version: '1.0.0',
      description: 'Topics and CloudEvents (binary mode) messages of the llmbus orchestration pipeline.',
    },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: { messages, schemas: componentSchemas },
  }) as Record<string, unknown>;
}
