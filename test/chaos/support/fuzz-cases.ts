// Malformed events for the fuzz run, produced straight to the topics the stages consume. Every
// case is invalid under every reading a correct consumer could take (binary or structured
// CloudEvents mode, strict or lenient header decoding), so each must end in a dead letter on the
// consuming stage's dead-letter topic and, when it names a request id, in a RequestFailed (a
// DocumentFailed on documents.indexed.v1 for a DocumentSubmitted, keyed by the same id).
import {
  ContextRetrievedEvent,
  DocumentSubmittedEvent,
  RegenerationRequestedEvent,
  RequestCompletedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  ReviewDecidedEvent,
  Topics,
  type Stage,
} from '@llmbus/contracts';
import { ceHeaders } from '../../support/pipeline-harness';
import { ticketPayload } from './steady-load';

/** The kinds of malformation, one row each in the fuzz table. */
export const FUZZ_CATEGORIES = [
  'bad-headers',
  'bad-utf8',
  'nul-bytes',
  'oversize',
  'wrong-types',
  'structured-mix',
  'missing-tenant',
  'unknown-type',
  'truncated-json',
  'empty-value',
] as const;
export type FuzzCategory = (typeof FUZZ_CATEGORIES)[number];

/** One malformed message and what must follow from it. */
export interface FuzzCase {
  readonly category: FuzzCategory;
  /** What exactly is wrong, e.g. `ce_specversion 0.3`. */
  readonly variant: string;
  readonly logicalTopic: string;
  /** The stage consuming the topic: its dead-letter topic must get the message. */
  readonly stage: Stage;
  readonly key: Buffer | null;
  readonly headers: Record<string, Buffer>;
  readonly value: Buffer | null;
  /** The request id the message names (key and ce_correlationid), when it names a valid one. */
  readonly requestId: string | null;
}

/** A consumed topic with the event type it carries. */
interface Target {
  readonly logicalTopic: string;
  readonly stage: Stage;
  readonly type: string;
}

const REQUEST: Target = {
  logicalTopic: Topics.Request.name,
  stage: 'router',
  type: RequestSubmittedEvent.type,
};
const OTHER_TARGETS: readonly Target[] = [
  { logicalTopic: Topics.Routed.name, stage: 'retriever', type: RequestRoutedEvent.type },
  { logicalTopic: Topics.DocumentIngest.name, stage: 'retriever', type: DocumentSubmittedEvent.type },
  { logicalTopic: Topics.Retrieved.name, stage: 'generator', type: ContextRetrievedEvent.type },
  { logicalTopic: Topics.Regenerate.name, stage: 'generator', type: RegenerationRequestedEvent.type },
  { logicalTopic: Topics.Generated.name, stage: 'validator', type: ResponseGeneratedEvent.type },
  { logicalTopic: Topics.ReviewDecision.name, stage: 'validator', type: ReviewDecidedEvent.type },
];

type Headers = Record<string, string | Buffer>;
interface Draft {
  readonly variant: string;
  readonly headers: Headers;
  readonly value: Buffer | string | null;
  /** False when the message must not name a request id (no key, no ce_correlationid). */
  readonly named?: boolean;
}
type Builder = (id: string, target: Target, maxEventBytes: number) => Draft;

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const withoutCorrelation = (headers: Headers): Headers => {
  const { ce_correlationid: _dropped, ...rest } = headers;
  return rest;
};
const json = (value: unknown) => JSON.stringify(value);
/** A payload that is valid JSON but no valid payload of any stage's event type. */
const junk = (id: string) => ({ requestId: id, context: 42, passages: 'none', attempt: 'first' });
/** The payload a target would accept in shape, where one is simple to build (the request topic). */
const baseline = (id: string, target: Target) =>
  target === REQUEST ? ticketPayload(id, 'complete') : junk(id);
/** Inserts raw bytes into the encoded JSON right after the first occurrence of `after`. */
function spliced(text: string, after: string, bytes: number[]): Buffer {
  const at = text.indexOf(after) + after.length;
  return Buffer.concat([utf8(text.slice(0, at)), Buffer.from(bytes), utf8(text.slice(at))]);
}
/** Where free text starts in a baseline payload: the ticket subject, or a string field of the junk payload. */
const textAnchor = (target: Target) => (target === REQUEST ? '"subject":"' : '"passages":"');
/** A structured-mode CloudEvent: attributes in the body, no ce_ headers. */
function structured(id: string, attributes: Record<string, unknown>, data: unknown): Draft['value'] {
  return json({
    specversion: '1.0',
    id: `${id}-ce`,
    source: '/upstream/chaos',
    time: new Date().toISOString(),
    correlationid: id,
    schemaversion: 1,
    datacontenttype: 'application/json',
    ...attributes,
    data,
  });
}
const STRUCTURED = { 'content-type': 'application/cloudevents+json' };

/** Variants by category; each builder gets a fresh request id and the target topic. */
const BUILDERS: Readonly<Record<FuzzCategory, readonly Builder[]>> = {
  'bad-headers': [
    (id, t) => ({
      variant: 'ce_specversion 0.3',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_specversion: '0.3' },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'ce_time not a time',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_time: 'yesterday' },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'ce_id empty',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_id: '' },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'ce_id 300 chars',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_id: `${id}-${'x'.repeat(300)}` },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'ce_tenantid upper case',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_tenantid: 'CHAOS' },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'ce_tenantid with a space',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_tenantid: 'chaos corp' },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'ce_schemaversion not a number',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_schemaversion: 'one' },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'ce_traceparent malformed',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_traceparent: 'not-a-traceparent' },
      value: json(baseline(id, t)),
    }),
    (id, t) => {
      const { ce_source: _s, ...headers } = ceHeaders(t.type, id, 'chaos');
      return { variant: 'ce_source missing', headers, value: json(baseline(id, t)) };
    },
    (id, t) => ({
      variant: 'ce_tenantid invalid UTF-8',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_tenantid: Buffer.from([0x63, 0xff, 0xfe, 0x61]) },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'ce_specversion invalid UTF-8',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_specversion: Buffer.from([0x31, 0x2e, 0x30, 0xc3]) },
      value: json(baseline(id, t)),
    }),
  ],
  'bad-utf8': [
    // JSON text must be UTF-8 (RFC 8259 §8.1): a lossy decode would change what was sent.
    (id, t) => ({
      variant: 'invalid byte in a string',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: spliced(json(baseline(id, t)), textAnchor(t), [0xc3, 0x28]),
    }),
    (id, t) => ({
      variant: 'overlong encoding',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: spliced(json(baseline(id, t)), textAnchor(t), [0xc0, 0xaf]),
    }),
    (id, t) => ({
      variant: 'UTF-8-encoded surrogate',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: spliced(json(baseline(id, t)), textAnchor(t), [0xed, 0xa0, 0x80]),
    }),
    (id, t) => ({
      variant: 'multi-byte sequence cut short',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: spliced(json(baseline(id, t)), textAnchor(t), [0xe2, 0x82]),
    }),
    (id, t) => ({
      variant: 'invalid byte between tokens',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: spliced(json(baseline(id, t)), '{', [0xfe]),
    }),
  ],
  'nul-bytes': [
    (id, t) => ({
      variant: 'raw NUL between tokens',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: spliced(json(baseline(id, t)), '{', [0x00]),
    }),
    (id, t) => ({
      variant: 'raw NUL inside a string',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: spliced(json(baseline(id, t)), textAnchor(t), [0x00]),
    }),
    (id, t) => ({
      variant: 'NUL in ce_tenantid',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_tenantid: 'chaos\u0000' },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'NUL in ce_time',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_time: `${new Date().toISOString()}\u0000` },
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'value of NULs',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: Buffer.alloc(64),
    }),
  ],
  oversize: [
    (id, t, max) => ({
      variant: 'value over LLMBUS_MAX_EVENT_BYTES',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: json({ ...baseline(id, t), padding: 'x'.repeat(max + 1 + (id.length % 512)) }),
    }),
  ],
  'wrong-types': [
    (id, t) => ({
      variant: 'object fields of wrong types',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: json(
        t === REQUEST
          ? { ...ticketPayload(id, 'complete'), input: 'a string', requester: { groups: 'everyone' } }
          : junk(id),
      ),
    }),
    (id, t) => ({
      variant: 'requestId a number',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: json({ ...baseline(id, t), requestId: 42 }),
    }),
    (id, t) => ({
      variant: 'value a JSON array',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: json([baseline(id, t)]),
    }),
    (id, t) => ({
      variant: 'value a JSON string',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: json('a ticket'),
    }),
    (id, t) => ({ variant: 'value JSON null', headers: ceHeaders(t.type, id, 'chaos'), value: 'null' }),
    (id, t) => ({ variant: 'value a number', headers: ceHeaders(t.type, id, 'chaos'), value: '42' }),
  ],
  'structured-mix': [
    // Structured mode as SDKs send it, but wrong in a way neither mode can accept.
    (id, t) => ({
      variant: 'structured, data invalid',
      headers: STRUCTURED,
      value: structured(id, { type: t.type, tenantid: 'chaos' }, junk(id)),
    }),
    (id, t) => ({
      variant: 'structured, no tenant anywhere',
      headers: STRUCTURED,
      value: structured(id, { type: t.type }, baseline(id, t)),
    }),
    (id) => ({
      variant: 'structured, unknown type',
      headers: STRUCTURED,
      value: structured(id, { type: 'llmbus.request.teleported', tenantid: 'chaos' }, junk(id)),
    }),
    (id, t) => ({
      variant: 'structured, specversion 0.3',
      headers: STRUCTURED,
      value: structured(id, { type: t.type, tenantid: 'chaos', specversion: '0.3' }, junk(id)),
    }),
    (id, t) => ({
      variant: 'structured, body truncated',
      headers: STRUCTURED,
      value: String(structured(id, { type: t.type, tenantid: 'chaos' }, baseline(id, t))).slice(0, 90),
    }),
    (id, t) => ({
      variant: 'structured, data a string',
      headers: STRUCTURED,
      value: structured(id, { type: t.type, tenantid: 'chaos' }, 'not an object'),
    }),
    (id, t) => ({
      variant: 'binary headers with structured content-type, data invalid',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ...STRUCTURED },
      value: structured(id, { type: t.type, tenantid: 'chaos' }, junk(id)),
    }),
  ],
  'missing-tenant': [
    (id, t) => ({
      variant: 'no ce_tenantid',
      headers: ceHeaders(t.type, id, null),
      value: json(baseline(id, t)),
    }),
    (id, t) => ({
      variant: 'ce_tenantid empty',
      headers: { ...ceHeaders(t.type, id, 'chaos'), ce_tenantid: '' },
      value: json(baseline(id, t)),
    }),
  ],
  'unknown-type': [
    (id) => ({
      variant: 'type nobody knows',
      headers: ceHeaders('llmbus.request.teleported', id, 'chaos'),
      value: json(junk(id)),
    }),
    (id) => ({
      variant: 'known type on the wrong topic',
      headers: ceHeaders(RequestCompletedEvent.type, id, 'chaos'),
      value: json(junk(id)),
    }),
    (id, t) => {
      const { ce_type: _t, ...headers } = ceHeaders(t.type, id, 'chaos');
      return { variant: 'no ce_type', headers, value: json(baseline(id, t)) };
    },
  ],
  'truncated-json': [
    (id, t) => {
      const text = json(baseline(id, t));
      // Cut somewhere after the request id, deterministically by id, never at the very end.
      const cut =
        text.indexOf(id) + id.length + 2 + (hash(id) % (text.length - text.indexOf(id) - id.length - 3));
      return {
        variant: 'cut mid-document',
        headers: ceHeaders(t.type, id, 'chaos'),
        value: text.slice(0, cut),
      };
    },
    (id, t) => ({
      variant: 'closing brace missing',
      headers: ceHeaders(t.type, id, 'chaos'),
      value: json(baseline(id, t)).slice(0, -1),
    }),
  ],
  'empty-value': [
    (id, t) => ({ variant: 'null value (tombstone)', headers: ceHeaders(t.type, id, 'chaos'), value: null }),
    (id, t) => ({ variant: 'empty value', headers: ceHeaders(t.type, id, 'chaos'), value: '' }),
    (_id, t) => ({
      variant: 'empty value, no key, no correlation id',
      headers: withoutCorrelation(ceHeaders(t.type, 'x', 'chaos')),
      value: '',
      named: false,
    }),
  ],
};

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function toBuffer(value: string | Buffer): Buffer {
  return typeof value === 'string' ? utf8(value) : value;
}

/**
 * `count` malformed events, the same on every run: categories and variants in turn, two in three
 * on the request topic and the rest spread over the other consumed topics.
 */
export function fuzzCases(count: number, idPrefix: string, maxEventBytes: number): FuzzCase[] {
  const variants = FUZZ_CATEGORIES.flatMap((category) =>
    BUILDERS[category].map((build) => ({ category, build })),
  );
  const cases: FuzzCase[] = [];
  for (let n = 0; n < count; n++) {
    const variant = n % variants.length;
    const { category, build } = variants[variant];
    // Each variant goes to every target in turn, whatever the number of variants.
    const turn = Math.floor(n / variants.length) + variant;
    const target = turn % 3 === 2 ? OTHER_TARGETS[Math.floor(turn / 3) % OTHER_TARGETS.length] : REQUEST;
    const id = `${idPrefix}-${String(n).padStart(5, '0')}`;
    const draft = build(id, target, maxEventBytes);
    const named = draft.named !== false;
    const headers: Record<string, Buffer> = {};
    for (const [name, value] of Object.entries(draft.headers)) headers[name] = toBuffer(value);
    cases.push({
      category,
      variant: draft.variant,
      logicalTopic: target.logicalTopic,
      stage: target.stage,
      key: named ? utf8(id) : null,
      headers,
      value: draft.value === null ? null : toBuffer(draft.value),
      requestId: named ? id : null,
    });
  }
  return cases;
}
