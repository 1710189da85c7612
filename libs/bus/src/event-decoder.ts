import {
  decodeMessage,
  EventDefinition,
  eventByType,
  eventTypesOnTopic,
  EventEnvelope,
  RequestSubmitted,
  RequestSubmittedEvent,
  validateAttributes,
  validatePayload,
} from '@llmbus/contracts';
import { isUtf8 } from 'node:buffer';
import { cut, documentOf, errorMessage, isRecord, RejectedIdentity, Rejection, replyToOf } from './rejection';
import type { RawMessage } from './transport';

/** What decoding needs to know besides the message. */
export interface DecodeLimits {
  /** Largest accepted message value, in bytes; a larger one is rejected as `oversize`. */
  readonly maxEventBytes: number;
  /** Logical topic the message was read from (without namespace prefix): it decides the accepted types. */
  readonly logicalTopic: string;
}

/** A decoded message: a valid envelope of a known type, or why it is rejected. */
export type DecodedEvent =
  | { readonly ok: true; readonly envelope: EventEnvelope<object>; readonly definition: EventDefinition }
  | { readonly ok: false; readonly rejection: Rejection };

/**
 * Decodes a Kafka record (CloudEvents binary or structured mode) into a validated envelope: size,
 * UTF-8, attributes, tenant, type accepted on the topic, then the payload against its contract.
 * Pure and total: it never throws; an input that makes validation itself throw (a payload nested
 * so deep that it overflows the stack) becomes an `invalid_payload` rejection, since an input that
 * cannot be read must never be redelivered forever and block its partition.
 */
export function decodeEvent(message: RawMessage, limits: DecodeLimits): DecodedEvent {
  try {
    return decode(message, limits);
  } catch (error) {
    return {
      ok: false,
      rejection: {
        code: 'invalid_payload',
        reason: `the event could not be validated (${cut(errorMessage(error), 300)}); send a flatter, smaller payload`,
        errors: ['value: not validatable'],
        correlationId: message.headers['ce_correlationid'] ?? message.key ?? undefined,
        tenant: message.headers['ce_tenantid'],
        causeId: message.headers['ce_id'],
        causeSource: message.headers['ce_source'],
        eventType: message.headers['ce_type'],
      },
    };
  }
}

function decode(message: RawMessage, limits: DecodeLimits): DecodedEvent {
  // Binary or structured mode, by the content-type header; attributes and payload alike from here on.
  const event = decodeMessage(message.headers, message.value?.toString('utf8') ?? '');
  const attrsPlain = event.attributes;
  const body = event.data;
  const ce = event.attributePrefix;
  const bodyRequestId = isRecord(body) ? textOf(body['requestId']) : undefined;
  const known: RejectedIdentity = {
    correlationId: textOf(attrsPlain['correlationid']) ?? message.key ?? bodyRequestId,
    tenant: textOf(attrsPlain['tenantid']),
    causeId: textOf(attrsPlain['id']),
    causeSource: textOf(attrsPlain['source']),
    replyTo: replyToOf(body),
    eventType: textOf(attrsPlain['type']),
    ...documentOf(body),
  };
  const rejected = (rejection: Omit<Rejection, keyof RejectedIdentity>): DecodedEvent => ({
    ok: false,
    rejection: { ...known, ...rejection },
  });
  const size = message.value?.length ?? 0;
  if (size > limits.maxEventBytes) {
    return rejected({
      code: 'oversize',
      reason: `message is ${size} bytes; the limit is ${limits.maxEventBytes} bytes. Send large documents in parts or by reference.`,
      errors: [`value: ${size} bytes > ${limits.maxEventBytes}`],
    });
  }
  if (message.value && !isUtf8(message.value)) {
    // JSON on the wire is UTF-8 (RFC 8259 §8.1): a lossy decode would silently change what was sent.
    return rejected({
      code: 'invalid_event',
      reason:
        'the message value is not valid UTF-8 (invalid, overlong or cut byte sequences); send the JSON payload encoded as UTF-8',
      errors: ['value: not UTF-8'],
    });
  }
  if (event.problem) return rejected({ code: 'invalid_event', ...event.problem });
  if (attrsPlain['tenantid'] === undefined) {
    return rejected({
      code: 'missing_tenant',
      reason:
        event.mode === 'binary'
          ? 'the event has no tenant: set the ce_tenantid header (CloudEvents binary mode) to your tenant id'
          : 'the event has no tenant: set the tenantid attribute (a top-level member of the structured-mode JSON body) to your tenant id',
      errors: [`${ce}tenantid: required`],
    });
  }
  const attrs = validateAttributes(attrsPlain);
  if (!attrs.ok) {
    const where = event.mode === 'binary' ? 'headers' : 'attributes of the structured-mode body';
    const errors = namingMissing(attrsPlain, attrs.errors, ce);
    return rejected({
      code: 'invalid_event',
      reason: `the CloudEvents ${where} are invalid: ${errors.join('; ')}`,
      errors: errors.map((e) => `${ce}${e}`),
    });
  }
  const allowed = eventTypesOnTopic(limits.logicalTopic);
  const definition = eventByType(attrs.value.type);
  if (!definition || !allowed.includes(attrs.value.type)) {
    return rejected({
      code: 'unknown_event_type',
      reason: `event type "${attrs.value.type}" is not accepted on ${limits.logicalTopic}; expected one of: ${allowed.join(', ')}`,
      errors: [`${ce}type: ${attrs.value.type}`],
    });
  }
  if (attrs.value.schemaversion !== definition.schemaVersion) {
    // A major version is a breaking change: reading it as the one we know would misread fields.
    return rejected({
      code: 'invalid_event',
      reason: `schema version ${attrs.value.schemaversion} of ${definition.type} is not supported on ${limits.logicalTopic}; this platform reads version ${definition.schemaVersion}: set ${ce}schemaversion to ${definition.schemaVersion} and send a payload of that version`,
      errors: [`${ce}schemaversion: ${attrs.value.schemaversion} is not ${definition.schemaVersion}`],
    });
  }
  if (event.dataProblem) return rejected({ code: 'invalid_event', ...event.dataProblem });
  const payload = validatePayload(definition, body);
  if (!payload.ok) {
    return rejected({
      code: 'invalid_payload',
      reason: `${definition.payload.name} payload is invalid: ${payload.errors.join('; ')}`,
      errors: payload.errors,
    });
  }
  const mismatch = correlationMismatch(definition, attrs.value.correlationid, payload.value);
  if (mismatch) {
    // The failure answers the request the payload names, which is the one its requester tracks.
    return {
      ok: false,
      rejection: {
        ...known,
        correlationId: mismatch,
        code: 'invalid_event',
        reason: `${ce}correlationid "${attrs.value.correlationid}" is not the request id "${mismatch}" of the payload; every event of a request carries its request id as correlation id, so set ${ce}correlationid to "${mismatch}"`,
        errors: [`${ce}correlationid: ${attrs.value.correlationid} is not requestId ${mismatch}`],
      },
    };
  }
  return { ok: true, envelope: { ...attrs.value, data: payload.value }, definition };
}

/**
 * For a submitted request, the request id of its payload when the envelope's correlation id names
 * another request (README, "Topics": `ce_correlationid=<request id>`); undefined when they agree.
 * Every later event of the request inherits the correlation id, which keys its trail, its review
 * and its status, so a contradicting one would file the request under an id its requester never
 * used. Only the entry event is checked: the stages derive the rest from it.
 */
function correlationMismatch(
  definition: EventDefinition,
  correlationId: string,
  payload: object,
): string | undefined {
  if (definition.type !== RequestSubmittedEvent.type) return undefined;
  const requestId = (payload as RequestSubmitted).requestId;
  return requestId === correlationId ? undefined : requestId;
}

/** Attributes every event carries (subject, causationid, traceparent and attempt are optional). */
const REQUIRED_ATTRIBUTES = [
  'id',
  'source',
  'type',
  'specversion',
  'time',
  'correlationid',
  'tenantid',
  'schemaversion',
] as const;

/**
 * The attribute errors with each absent required attribute said once as missing (`id: the ce_id
 * header is missing`) instead of every constraint it fails ("must be shorter than or equal to 200
 * characters", "should not be empty", "must be a string"); the other lines are kept as they are.
 */
function namingMissing(plain: Record<string, unknown>, errors: readonly string[], prefix: string): string[] {
  const missing = REQUIRED_ATTRIBUTES.filter((name) => plain[name] === undefined);
  const what = prefix ? 'header' : 'member of the structured-mode body';
  return [
    ...missing.map((name) => `${name}: the ${prefix}${name} ${what} is missing`),
    ...errors.filter((line) => !missing.some((name) => line.startsWith(`${name}: `))),
  ];
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
