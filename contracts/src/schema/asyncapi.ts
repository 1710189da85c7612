import { EVENTS, eventTypesOnTopic } from '../catalog';
import { CE_HEADER_PREFIX } from '../envelope';
import { TOPICS } from '../topics';
import { buildJsonSchemas, sortKeys } from './json-schemas';

function channelId(topic: string): string {
  return topic.replace(/[^A-Za-z0-9]+/g, '_');
}

function messageId(type: string): string {
  return type.replace(/[^A-Za-z0-9]+/g, '_');
}

const HEADERS_SCHEMA = {
  type: 'object',
  required: ['ce_id', 'ce_source', 'ce_type', 'ce_specversion', 'ce_time', 'ce_correlationid', 'ce_tenantid'],
  properties: Object.fromEntries(
    [
      ['id', 'Event id; consumers de-duplicate on it.'],
      ['source', 'Producer URI-reference.'],
      ['type', 'CloudEvents type.'],
      ['specversion', 'Always 1.0.'],
      ['time', 'RFC 3339 timestamp.'],
      ['subject', 'Optional subject.'],
      ['correlationid', 'The request or document the event belongs to.'],
      ['causationid', 'Id of the event that caused this one.'],
      ['tenantid', 'Tenant that owns the event.'],
      ['traceparent', 'W3C trace context.'],
      ['schemaversion', 'Major payload schema version.'],
      ['attempt', 'Attempt of the producing stage.'],
    ].map(([name, description]) => [`${CE_HEADER_PREFIX}${name}`, { type: 'string', description }]),
  ),
};

/** The AsyncAPI 3.0 document of every topic and message, generated from the contracts. */
export function buildAsyncApi(): Record<string, unknown> {
  const schemas = buildJsonSchemas();
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const event of EVENTS) {
    const { $schema: _ignored, ...payload } = schemas[event.type];
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
    components: { messages, schemas: { CloudEventHeaders: HEADERS_SCHEMA } },
  }) as Record<string, unknown>;
}
