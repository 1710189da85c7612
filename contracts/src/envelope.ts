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

/**
 * CloudEvents 1.0 attributes plus the platform's extensions. On Kafka they travel as headers in
 * CloudEvents binary mode (`ce_<attribute>`), the payload as the JSON message value.
 */
export class EnvelopeAttributes {
  /**
   * Unique per event within its source and tenant (see EventIdentity). Derived, not random, for
   * events a stage emits.
   */
  @IsString() @IsNotEmpty() @MaxLength(200) id!: string;
  /** URI-reference of the producer, e.g. `/llmbus/router`. */
  @IsString() @IsNotEmpty() @MaxLength(500) source!: string;
  /** Event type, e.g. `llmbus.request.submitted`. */
  @IsString() @IsNotEmpty() @MaxLength(200) type!: string;
  @IsIn(['1.0']) specversion!: '1.0';
  @IsISO8601() time!: string;
  @IsOptional() @IsString() @MaxLength(200) subject?: string;
  /** The request (or document) this event belongs to. */
  @IsString() @IsNotEmpty() @MaxLength(200) correlationid!: string;
  /** The id of the event that caused this one; absent on events that start a chain. */
  @IsOptional() @IsString() @MaxLength(200) causationid?: string;
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
  const attrs: Record<string, unknown> = {};
  for (const name of ATTRIBUTE_NAMES) {
    const raw = headers[CE_HEADER_PREFIX + name];
    if (raw === undefined) continue;
    attrs[name] = NUMERIC_ATTRIBUTES.has(name) && /^\d+$/.test(raw) ? Number(raw) : raw;
  }
  return attrs;
}
