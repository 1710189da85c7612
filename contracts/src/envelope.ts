import {
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
} from 'class-validator';
import { NAME_MAX_LENGTH } from './limits';
import { toStorableText, truncateText } from './text';

/**
 * CloudEvents 1.0 attributes plus the platform's extensions. On Kafka they travel as headers in
 * CloudEvents binary mode (`ce_<attribute>`), the payload as the JSON message value; consumers
 * also accept structured mode (see decodeMessage).
 */
export class EnvelopeAttributes {
  /**
   * Unique per event within its source and tenant (see EventIdentity). Derived, not random, for
   * events a stage emits.
   */
  @IsString() @IsNotEmpty() @MaxLength(NAME_MAX_LENGTH) id!: string;
  /** URI-reference of the producer, e.g. `/llmbus/router`. */
  @IsString() @IsNotEmpty() @MaxLength(500) source!: string;
  /** Event type, e.g. `llmbus.request.submitted`. */
  @IsString() @IsNotEmpty() @MaxLength(NAME_MAX_LENGTH) type!: string;
  @IsIn(['1.0']) specversion!: '1.0';
  @IsISO8601() time!: string;
  @IsOptional() @IsString() @MaxLength(NAME_MAX_LENGTH) subject?: string;
  /** The request (or document) this event belongs to. */
  @IsString() @IsNotEmpty() @MaxLength(NAME_MAX_LENGTH) correlationid!: string;
  /** The id of the event that caused this one; absent on events that start a chain. */
  @IsOptional() @IsString() @MaxLength(NAME_MAX_LENGTH) causationid?: string;
  @IsString()
  @Matches(/^(?:_none|[a-z0-9][a-z0-9_-]{0,62})$/, {
    message: 'tenantid must be 1-63 lowercase letters, digits, "-" or "_", starting with a letter or digit',
  })
  tenantid!: string;
  /** W3C trace context of the span that produced the event. */
  @IsOptional()
  @Matches(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, {
    message: 'traceparent must be a W3C traceparent',
  })
  traceparent?: string;
  /** Major version of the payload schema of `type`. */
  @IsInt() @Min(1) schemaversion!: number;
  /** Which attempt of the producing stage emitted this event (1-based). */
  @IsOptional() @IsInt() @Min(1) attempt?: number;
}

/** Pattern of a tenant id a client may use. */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Tenant recorded on dead-letter and failure events whose input carried no usable tenant. It
 * fails TENANT_PATTERN, so no API key or request can ever claim it.
 */
export const UNKNOWN_TENANT = '_none';

/**
 * What identifies an event: CloudEvents `source` + `id` ("Producers MUST ensure that source + id
 * is unique for each distinct event", CloudEvents 1.0, `id`), within a tenant. Two producers may
 * use the same id; consumers de-duplicate, and the audit store is unique, on all three.
 */
export type EventIdentity = Pick<EnvelopeAttributes, 'tenantid' | 'source' | 'id'>;

/** An event as handlers see it: validated attributes and typed payload. */
export interface EventEnvelope<P = unknown> extends Readonly<EnvelopeAttributes> {
  readonly data: P;
}

export const CONTENT_TYPE = 'application/json';
export const CE_HEADER_PREFIX = 'ce_';

/**
 * The Kafka header in which a distributed stage carries its authenticated person-name detections to
 * the stages after it (written and checked by `@llmbus/pii`'s attestation codec; no payload field).
 */
export const PII_ATTESTATION_HEADER = 'llmbus_pii';

const ATTRIBUTE_NAMES = [
  'id',
  'source',
  'type',
  'specversion',
  'time',
  'subject',
  'correlationid',
  'causationid',
  'tenantid',
  'traceparent',
  'schemaversion',
  'attempt',
] as const satisfies readonly (keyof EnvelopeAttributes)[];

const NUMERIC_ATTRIBUTES = new Set<string>(['schemaversion', 'attempt']);

/** Encodes envelope attributes as CloudEvents binary-mode Kafka headers. */
export function attributesToHeaders(attrs: EnvelopeAttributes): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': CONTENT_TYPE };
  for (const name of ATTRIBUTE_NAMES) {
    const value = attrs[name];
    if (value !== undefined && value !== null) headers[CE_HEADER_PREFIX + name] = String(value);
  }
  return headers;
}

/**
 * Reads envelope attributes from Kafka headers. Returns a plain object to be validated; unknown
 * headers are ignored, numeric attributes are parsed (a non-number stays a string and fails validation).
 */
export function headersToAttributes(
  headers: Readonly<Record<string, string | undefined>>,
): Record<string, unknown> {
  return readAttributes((name) => headers[CE_HEADER_PREFIX + name]);
}

/** Collects the known attributes `get` finds; null counts as absent, digit strings of numeric ones become numbers. */
function readAttributes(get: (name: string) => unknown): Record<string, unknown> {
  const attrs: Record<string, unknown> = {};
  for (const name of ATTRIBUTE_NAMES) {
    const raw = get(name);
    if (raw === undefined || raw === null) continue;
    attrs[name] =
      NUMERIC_ATTRIBUTES.has(name) && typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  }
  return attrs;
}

/** Media type of one CloudEvent in structured content mode, JSON event format. */
export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';
/** Media type of a batch of CloudEvents in one message; the bus does not accept batches. */
export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';

/** How a Kafka message carries its event (CloudEvents Kafka protocol binding 1.0, section 3). */
export type ContentMode = 'binary' | 'structured';

/** Why a message cannot be read as an event: a reason for the sender, and one line per fault. */
export interface DecodeProblem {
  readonly reason: string;
  readonly errors: readonly string[];
}

/** A Kafka message taken apart into CloudEvents attributes (not validated yet) and payload. */
export interface DecodedMessage {
  readonly mode: ContentMode;
  /** The attributes found, numeric ones parsed; validate them with validateAttributes. */
  readonly attributes: Record<string, unknown>;
  /** The payload as a JSON value; undefined when there is none or it cannot be read (see dataProblem). */
  readonly data: unknown;
  /** Prefix that names an attribute to the sender: `ce_` in binary mode (headers), empty in structured mode (body members). */
  readonly attributePrefix: string;
  /** The message is not an event in its mode (not one JSON object, a batch, conflicting modes). */
  readonly problem?: DecodeProblem;
  /** The attributes are readable but the payload is not. */
  readonly dataProblem?: DecodeProblem;
}

/**
 * Takes a Kafka message apart in the content mode its `content-type` header names (header name
 * and media type matched case-insensitively, parameters such as `; charset=utf-8` allowed):
 * structured mode for `application/cloudevents+json` (see decodeStructured), binary mode
 * (`ce_*` headers, the value is the JSON payload) for anything else; in binary mode a content-type
 * that is not JSON (`application/json`, `text/json`, `+json`) is a `dataProblem`. Never throws.
 */
export function decodeMessage(
  headers: Readonly<Record<string, string | undefined>>,
  value: string,
): DecodedMessage {
  const mediaType = mediaTypeOf(headerIgnoringCase(headers, 'content-type'));
  if (mediaType === STRUCTURED_CONTENT_TYPE) return decodeStructured(value, headers);
  if (mediaType === BATCH_CONTENT_TYPE) {
    return {
      mode: 'structured',
      attributes: {},
      data: undefined,
      attributePrefix: '',
      problem: {
        reason: `batched CloudEvents (content-type ${BATCH_CONTENT_TYPE}) are not accepted: send one event per Kafka message`,
        errors: [`content-type: ${BATCH_CONTENT_TYPE}`],
      },
    };
  }
  if (mediaType !== undefined && !isJsonMediaType(mediaType)) {
    // Binary mode: content-type is the payload's datacontenttype (Kafka protocol binding 1.0, 3.2.1).
    return {
      mode: 'binary',
      attributes: headersToAttributes(headers),
      data: undefined,
      attributePrefix: CE_HEADER_PREFIX,
      dataProblem: {
        reason:
          `the content-type header is "${toStorableText(truncateText(mediaType, 100))}", but llmbus payloads are JSON objects: ` +
          `set content-type to ${CONTENT_TYPE} (or leave it out) and send the payload as JSON, or use ${STRUCTURED_CONTENT_TYPE} for structured mode`,
        errors: ['content-type: not JSON'],
      },
    };
  }
  const data = parseJson(value);
  return {
    mode: 'binary',
    attributes: headersToAttributes(headers),
    data: data.ok ? data.value : undefined,
    attributePrefix: CE_HEADER_PREFIX,
    ...(!data.ok && {
      dataProblem: {
        reason: 'the message value is not valid JSON; send the payload as a UTF-8 JSON object',
        errors: ['value: not JSON'],
      },
    }),
  };
}

/**
 * Reads a CloudEvent in structured content mode, JSON event format (CloudEvents Kafka protocol
 * binding 1.0, 3.2; JSON event format 1.0): the body is one JSON object whose top-level members are
 * the attributes, extensions included (`tenantid`, `correlationid`, …), and whose `data` member
 * is the payload. `data_base64` is accepted when `datacontenttype` is JSON (or absent): it is
 * decoded as UTF-8 JSON. `ce_*` headers are ignored, except that one disagreeing with the body's
 * attribute is a `problem` (an event must not say two things). Never throws.
 */
export function decodeStructured(
  body: string,
  headers: Readonly<Record<string, string | undefined>> = {},
): DecodedMessage {
  const base = { mode: 'structured' as const, attributePrefix: '' };
  const parsed = parseJson(body);
  if (!parsed.ok || !isJsonObject(parsed.value)) {
    const what = !parsed.ok ? 'is not valid JSON' : `is ${describeJson(parsed.value)}, not an object`;
    return {
      ...base,
      attributes: {},
      data: undefined,
      problem: {
        reason:
          `the content-type header says CloudEvents structured mode (${STRUCTURED_CONTENT_TYPE}) but the message value ${what}: ` +
          'send one JSON object with the attributes (id, source, type, specversion, time, tenantid, …) as members and the payload in "data", ' +
          'or use binary mode (ce_* headers, the payload as the value)',
        errors: [`value: ${what}`],
      },
    };
  }
  const event = parsed.value;
  const attributes = readAttributes((name) => event[name]);
  const conflicts = ATTRIBUTE_NAMES.filter((name) => {
    const header = headers[CE_HEADER_PREFIX + name];
    return header !== undefined && attributes[name] !== undefined && String(attributes[name]) !== header;
  });
  if (conflicts.length > 0) {
    const names = conflicts.map((name) => CE_HEADER_PREFIX + name);
    return {
      ...base,
      attributes,
      data: undefined,
      problem: {
        reason:
          `the message mixes CloudEvents content modes: it is structured (content-type ${STRUCTURED_CONTENT_TYPE}), so its attributes are the body's members, ` +
          `but the header(s) ${names.join(', ')} disagree with the body; remove the ce_* headers or make them equal`,
        errors: conflicts.map((name) => `${CE_HEADER_PREFIX}${name}: differs from the body's ${name}`),
      },
    };
  }
  const data = structuredData(event);
  return 'problem' in data
    ? { ...base, attributes, data: undefined, dataProblem: data.problem }
    : { ...base, attributes, data: data.value };
}

/** The payload of a structured-mode event: `data`, or `data_base64` decoded when it holds JSON. */
function structuredData(event: Record<string, unknown>): { value: unknown } | { problem: DecodeProblem } {
  const problem = (reason: string, error: string) => ({ problem: { reason, errors: [error] } });
  const contentType = event['datacontenttype'];
  if (contentType !== undefined && contentType !== null && typeof contentType !== 'string') {
    return problem(
      'datacontenttype must be a string such as application/json',
      'datacontenttype: not a string',
    );
  }
  if (typeof contentType === 'string' && !isJsonMediaType(contentType)) {
    return problem(
      `datacontenttype is "${toStorableText(truncateText(contentType, 100))}", but llmbus payloads are JSON objects: ` +
        'set datacontenttype to application/json (or leave it out) and put the payload in "data"',
      'datacontenttype: not JSON',
    );
  }
  const hasData = event['data'] !== undefined;
  const encoded = event['data_base64'];
  if (hasData && encoded !== undefined) {
    return problem(
      'the event has both "data" and "data_base64"; a CloudEvent carries its payload in one of them',
      'data_base64: not allowed together with data',
    );
  }
  if (encoded !== undefined) return decodeBase64Json(encoded);
  if (!hasData) {
    return problem(
      'the structured-mode event has no "data" member: put the payload object in "data"',
      'data: required',
    );
  }
  return { value: event['data'] };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64Json(encoded: unknown): { value: unknown } | { problem: DecodeProblem } {
  const problem = (reason: string, error: string) => ({ problem: { reason, errors: [error] } });
  if (typeof encoded !== 'string' || !BASE64.test(encoded)) {
    return problem(
      'data_base64 is not a base64 string (RFC 4648, with padding); encode the UTF-8 JSON payload, or send it as "data"',
      'data_base64: not base64',
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(encoded, 'base64'));
  } catch {
    return problem(
      'data_base64 does not decode to UTF-8 text; encode the UTF-8 JSON payload',
      'data_base64: not UTF-8',
    );
  }
  const parsed = parseJson(text);
  return parsed.ok
    ? { value: parsed.value }
    : problem(
        'data_base64 does not decode to JSON although datacontenttype says JSON; encode the JSON payload, or send it as "data"',
        'data_base64: not JSON',
      );
}

/** `type/subtype` of a content-type value, lower-cased, without parameters; undefined when empty. */
function mediaTypeOf(contentType: string | undefined): string | undefined {
  const mediaType = contentType?.split(';', 1)[0].trim().toLowerCase();
  return mediaType === '' ? undefined : mediaType;
}

/** application/json, text/json or any `+json` type (CloudEvents JSON event format, 3.1). */
function isJsonMediaType(contentType: string): boolean {
  const subtype = mediaTypeOf(contentType)?.split('/')[1];
  return subtype === 'json' || (subtype?.endsWith('+json') ?? false);
}

function headerIgnoringCase(
  headers: Readonly<Record<string, string | undefined>>,
  name: string,
): string | undefined {
  if (headers[name] !== undefined) return headers[name];
  const found = Object.keys(headers).find((key) => key.toLowerCase() === name);
  return found === undefined ? undefined : headers[found];
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeJson(value: unknown): string {
  if (Array.isArray(value)) return 'a JSON array';
  return value === null ? 'JSON null' : `a JSON ${typeof value}`;
}
