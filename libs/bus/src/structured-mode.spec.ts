import {
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  FailureCode,
  RequestFailed,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
  Topics,
  UNKNOWN_TENANT,
} from '@llmbus/contracts';
import pino from 'pino';
import { EventBus } from './event-bus';
import { InMemoryTransport } from './in-memory-transport';
import { outgoing } from './outgoing';
import { until } from './testing/bus-test-support';

const logger = pino({ level: 'silent' });
const STRUCTURED = { 'content-type': 'application/cloudevents+json' };

const submitted = (requestId: string): RequestSubmitted => ({
  requestId,
  eventType: 'ticket.created',
  input: { subject: 's' },
  requester: { groups: [] },
});

/** A RequestSubmitted in structured mode, JSON event format, as CloudEvents SDKs write it. */
function structured(requestId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: `evt-${requestId}`,
    source: '/upstream/sdk',
    type: RequestSubmittedEvent.type,
    time: '2026-01-01T12:00:00Z',
    datacontenttype: 'application/json',
    tenantid: 'acme',
    correlationid: requestId,
    schemaversion: 1,
    data: submitted(requestId),
    ...overrides,
  };
}

describe('structured-mode CloudEvents on every consumed topic', () => {
  let transport: InMemoryTransport;
  let bus: EventBus;
  let handled: EventEnvelope<object>[];
  let observed: EventEnvelope<object>[];

  beforeEach(async () => {
    transport = new InMemoryTransport();
    bus = new EventBus(transport, { logger, retryDelayMs: 1 });
    handled = [];
    observed = [];
    await bus.subscribe({
      stage: 'auditor',
      groupId: 'observer',
      notifyRequester: false,
      handlers: Object.fromEntries(
        [DeadLetteredEvent.type, RequestFailedEvent.type, RequestRoutedEvent.type].map((t) => [
          t,
          async (e: EventEnvelope<object>) => (observed.push(e), []),
        ]),
      ),
    });
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => {
          handled.push(e);
          const d = e.data as RequestSubmitted;
          return [
            outgoing(RequestRoutedEvent, {
              requestId: d.requestId,
              context: {
                workflow: { id: 'support-ticket', version: 1 },
                requester: d.requester,
                modelTier: 'small',
                budget: { maxOutputTokens: 10, maxCostUsd: 0 },
              },
              input: d.input,
              retrieval: { collections: [], topK: 0, query: '' },
            }),
          ];
        },
      },
    });
  });
  afterEach(() => bus.close());

  const send = (key: string, headers: Record<string, string>, value: unknown) =>
    transport.produceRaw(
      Topics.Request.name,
      key,
      headers,
      Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    );
  const ofType = (type: string) => observed.filter((e) => e.type === type);

  it('reads attributes from the body and the payload from data, whatever the case and parameters of the content type', async () => {
    await send('s-1', { 'Content-Type': 'Application/CloudEvents+JSON; charset=utf-8' }, structured('s-1'));
    await until(() => ofType(RequestRoutedEvent.type).length === 1);
    expect(handled[0]).toMatchObject({
      id: 'evt-s-1',
      source: '/upstream/sdk',
      tenantid: 'acme',
      correlationid: 's-1',
      schemaversion: 1,
      data: submitted('s-1'),
    });
    expect(ofType(RequestRoutedEvent.type)[0]).toMatchObject({ tenantid: 'acme', causationid: 'evt-s-1' });
    expect(ofType(DeadLetteredEvent.type)).toEqual([]);
  });

  it('decodes data_base64 when datacontenttype is JSON', async () => {
    const event = structured('s-2', {
      data: undefined,
      datacontenttype: 'application/json; charset=utf-8',
      data_base64: Buffer.from(JSON.stringify(submitted('s-2'))).toString('base64'),
    });
    await send('s-2', STRUCTURED, event);
    await until(() => handled.length === 1);
    expect(handled[0].data).toEqual(submitted('s-2'));
  });

  it('keeps binary mode as it was', async () => {
    const headers = {
      'content-type': 'application/json',
      ce_id: 'bin-1',
      ce_source: '/upstream/kafka',
      ce_type: RequestSubmittedEvent.type,
      ce_specversion: '1.0',
      ce_time: new Date().toISOString(),
      ce_correlationid: 'b-1',
      ce_tenantid: 'acme',
      ce_schemaversion: '1',
    };
    await send('b-1', headers, submitted('b-1'));
    await until(() => handled.length === 1);
    expect(handled[0]).toMatchObject({ id: 'bin-1', tenantid: 'acme', data: submitted('b-1') });
  });

  interface Rejected {
    readonly what: string;
    readonly headers: Record<string, string>;
    readonly value: unknown;
    /** Message key, and the request id the requester is told about. */
    readonly requestId: string;
    readonly code: FailureCode;
    readonly reason: RegExp;
    /** Start of one of the dead letter's errors: names the attribute or member at fault. */
    readonly error: string;
    /** Tenant the dead letter and the failure are filed under. */
    readonly tenant: string;
  }

  const rejections: Rejected[] = [
    {
      what: 'a tenant that is not a tenant id',
      headers: STRUCTURED,
      value: structured('r-1', { tenantid: 'ACME!' }),
      requestId: 'r-1',
      code: 'invalid_event',
      reason: /attributes of the structured-mode body are invalid: tenantid: tenantid must be/,
      error: 'tenantid: tenantid must be',
      tenant: UNKNOWN_TENANT,
    },
    {
      what: 'no tenant',
      headers: STRUCTURED,
      value: structured('r-2', { tenantid: undefined }),
      requestId: 'r-2',
      code: 'missing_tenant',
      reason: /set the tenantid attribute \(a top-level member of the structured-mode JSON body\)/,
      error: 'tenantid: required',
      tenant: UNKNOWN_TENANT,
    },
    {
      what: 'a schema version that is not a number',
      headers: STRUCTURED,
      value: structured('r-3', { schemaversion: 'one' }),
      requestId: 'r-3',
      code: 'invalid_event',
      reason: /schemaversion/,
      error: 'schemaversion: schemaversion must',
      tenant: 'acme',
    },
    {
      what: 'a payload that fails its schema (filed under the tenant of the body)',
      headers: STRUCTURED,
      value: structured('r-4', { data: { ...submitted('r-4'), input: 'text' } }),
      requestId: 'r-4',
      code: 'invalid_payload',
      reason: /RequestSubmitted payload is invalid: input: input must be an object/,
      error: 'input: input must be an object',
      tenant: 'acme',
    },
    {
      what: 'data_base64 whose datacontenttype is not JSON',
      headers: STRUCTURED,
      value: structured('r-5', {
        data: undefined,
        datacontenttype: 'text/plain',
        data_base64: Buffer.from('hello').toString('base64'),
      }),
      requestId: 'r-5',
      code: 'invalid_event',
      reason: /datacontenttype is "text\/plain", but llmbus payloads are JSON objects/,
      error: 'datacontenttype: not JSON',
      tenant: 'acme',
    },
    {
      what: 'data_base64 that does not hold JSON',
      headers: STRUCTURED,
      value: structured('r-6', { data: undefined, data_base64: Buffer.from('{nope').toString('base64') }),
      requestId: 'r-6',
      code: 'invalid_event',
      reason: /data_base64 does not decode to JSON/,
      error: 'data_base64: not JSON',
      tenant: 'acme',
    },
    {
      what: 'both data and data_base64',
      headers: STRUCTURED,
      value: structured('r-7', { data_base64: 'e30=' }),
      requestId: 'r-7',
      code: 'invalid_event',
      reason: /both "data" and "data_base64"/,
      error: 'data_base64: not allowed together with data',
      tenant: 'acme',
    },
    {
      what: 'no data',
      headers: STRUCTURED,
      value: structured('r-8', { data: undefined }),
      requestId: 'r-8',
      code: 'invalid_event',
      reason: /no "data" member/,
      error: 'data: required',
      tenant: 'acme',
    },
    {
      what: 'a body that is not JSON',
      headers: STRUCTURED,
      value: '{"specversion": "1.0",',
      requestId: 'r-9',
      code: 'invalid_event',
      reason:
        /content-type header says CloudEvents structured mode \(application\/cloudevents\+json\) but the message value is not valid JSON/,
      error: 'value: is not valid JSON',
      tenant: UNKNOWN_TENANT,
    },
    {
      what: 'a body that is a JSON array',
      headers: STRUCTURED,
      value: [structured('r-10')],
      requestId: 'r-10',
      code: 'invalid_event',
      reason: /the message value is a JSON array, not an object/,
      error: 'value: is a JSON array, not an object',
      tenant: UNKNOWN_TENANT,
    },
    {
      what: 'a ce_ header that disagrees with the body',
      headers: { ...STRUCTURED, ce_tenantid: 'globex' },
      value: structured('r-11'),
      requestId: 'r-11',
      code: 'invalid_event',
      reason: /mixes CloudEvents content modes.*ce_tenantid disagree with the body/,
      error: "ce_tenantid: differs from the body's tenantid",
      tenant: 'acme',
    },
    {
      what: 'a batch',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      value: [structured('r-12')],
      requestId: 'r-12',
      code: 'invalid_event',
      reason: /batched CloudEvents .* are not accepted: send one event per Kafka message/,
      error: 'content-type: application/cloudevents-batch+json',
      tenant: UNKNOWN_TENANT,
    },
  ];

  it.each(rejections)(
    'dead-letters a structured event with $what and tells the requester what to fix',
    async ({ headers, value, requestId, code, reason, error, tenant }) => {
      await send(requestId, headers, value);
      await until(
        () => ofType(DeadLetteredEvent.type).length === 1 && ofType(RequestFailedEvent.type).length === 1,
      );
      const dead = ofType(DeadLetteredEvent.type)[0];
      const failed = ofType(RequestFailedEvent.type)[0];
      expect(dead.data as DeadLettered).toMatchObject({ reasonCode: code, stage: 'router' });
      expect((dead.data as DeadLettered).reason).toMatch(reason);
      expect((dead.data as DeadLettered).errors.some((e) => e.startsWith(error))).toBe(true);
      expect(failed.data as RequestFailed).toMatchObject({ code, requestId });
      expect(dead.tenantid).toBe(tenant);
      expect(failed.tenantid).toBe(tenant);
      expect(handled).toEqual([]);
    },
  );
});
