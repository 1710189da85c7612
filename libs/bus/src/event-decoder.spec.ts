import { attributesToHeaders, RequestSubmitted, RequestSubmittedEvent, Topics } from '@llmbus/contracts';
import { decodeEvent, DecodeLimits } from './event-decoder';
import type { RawMessage } from './transport';

const limits: DecodeLimits = { maxEventBytes: 4096, logicalTopic: Topics.Request.name };

const submitted = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  requestId: 'req-1',
  eventType: 'ticket.created',
  input: { subject: 's' },
  requester: { groups: [] },
  ...overrides,
});

function message(data: unknown, headers: Record<string, string | undefined> = {}): RawMessage {
  const base = attributesToHeaders({
    id: 'evt-1',
    source: '/upstream',
    type: RequestSubmittedEvent.type,
    specversion: '1.0',
    time: '2026-01-01T12:00:00Z',
    correlationid: 'req-1',
    tenantid: 'acme',
    schemaversion: 1,
  });
  const merged = Object.fromEntries(
    Object.entries({ ...base, ...headers }).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  return {
    topic: 'llmbus.request',
    partition: 0,
    offset: '7',
    key: 'req-1',
    headers: merged,
    value: Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)),
  };
}

describe('decodeEvent', () => {
  it('returns the envelope and the event definition of a valid binary-mode record', () => {
    const decoded = decodeEvent(message(submitted()), limits);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.definition).toBe(RequestSubmittedEvent);
    expect(decoded.envelope).toMatchObject({
      id: 'evt-1',
      tenantid: 'acme',
      type: RequestSubmittedEvent.type,
    });
    expect(decoded.envelope.data as RequestSubmitted).toMatchObject({
      requestId: 'req-1',
      input: { subject: 's' },
    });
  });

  it('rejects a payload field with invalid_payload naming its JSON path, keeping what identifies the request', () => {
    const decoded = decodeEvent(
      message(submitted({ requester: { groups: 'hr' }, replyTo: 'ticket-9' })),
      limits,
    );
    expect(decoded).toEqual({
      ok: false,
      rejection: expect.objectContaining({
        code: 'invalid_payload',
        reason: expect.stringMatching(/^RequestSubmitted payload is invalid: requester\.groups: /),
        errors: expect.arrayContaining(['requester.groups: groups must be an array']),
        correlationId: 'req-1',
        tenant: 'acme',
        causeId: 'evt-1',
        causeSource: '/upstream',
        replyTo: 'ticket-9',
      }),
    });
  });

  it('rejects an unknown payload property by name', () => {
    const decoded = decodeEvent(message(submitted({ extra: 1 })), limits);
    expect(decoded.ok || decoded.rejection.errors).toEqual(['extra: property extra should not exist']);
  });

  it.each([
    [
      'a value over the size limit',
      message(submitted({ input: { text: 'x'.repeat(5000) } })),
      'oversize',
      'value: ',
    ],
    [
      'bytes that are not UTF-8',
      { ...message(''), value: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) },
      'invalid_event',
      'value: not UTF-8',
    ],
    ['a value that is not JSON', message('{not json'), 'invalid_event', 'value: not JSON'],
    [
      'a record without tenant',
      message(submitted(), { ce_tenantid: undefined }),
      'missing_tenant',
      'ce_tenantid: required',
    ],
    [
      'an invalid attribute',
      message(submitted(), { ce_tenantid: 'ACME!' }),
      'invalid_event',
      'ce_tenantid: ',
    ],
    [
      'a type not carried by the topic',
      message(submitted(), { ce_type: 'llmbus.request.routed' }),
      'unknown_event_type',
      'ce_type: llmbus.request.routed',
    ],
  ])('rejects %s with its code and where the problem is', (_name, record, code, error) => {
    const decoded = decodeEvent(record, limits);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.rejection.code).toBe(code);
    expect(decoded.rejection.errors[0]).toContain(error);
    expect(decoded.rejection.reason.length).toBeGreaterThan(20);
  });

  it('turns a payload so deep that validation throws into a rejection instead of throwing', () => {
    const depth = 200_000;
    const text = `{"requestId":"req-1","eventType":"e","requester":{"groups":[]},"input":{"deep":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const decoded = decodeEvent(message(text), { ...limits, maxEventBytes: 1 << 20 });
    expect(decoded).toMatchObject({
      ok: false,
      rejection: { code: 'invalid_payload', errors: ['value: not validatable'] },
    });
  });

  it('rejects a schema version it does not read instead of reading it as its own', () => {
    const decoded = decodeEvent(message(submitted(), { ce_schemaversion: '9' }), limits);
    expect(decoded).toEqual({
      ok: false,
      rejection: expect.objectContaining({
        code: 'invalid_event',
        reason: expect.stringContaining(
          'schema version 9 of llmbus.request.submitted is not supported on orchestration.request.v1',
        ),
        errors: ['ce_schemaversion: 9 is not 1'],
        correlationId: 'req-1',
      }),
    });
  });

  it('rejects a submitted request whose correlation id names another request, answering the payload request id', () => {
    const decoded = decodeEvent(
      message(submitted({ replyTo: 'ticket-9' }), { ce_correlationid: 'req-other' }),
      limits,
    );
    expect(decoded).toEqual({
      ok: false,
      rejection: expect.objectContaining({
        code: 'invalid_event',
        reason: expect.stringContaining('set ce_correlationid to "req-1"'),
        errors: ['ce_correlationid: req-other is not requestId req-1'],
        correlationId: 'req-1',
        tenant: 'acme',
        replyTo: 'ticket-9',
      }),
    });
  });

  it('says a missing attribute is missing, once, and keeps the faults of the others', () => {
    const decoded = decodeEvent(
      message(submitted(), { ce_id: undefined, ce_schemaversion: undefined, ce_time: 'yesterday' }),
      limits,
    );
    expect(decoded).toEqual({
      ok: false,
      rejection: expect.objectContaining({
        code: 'invalid_event',
        reason:
          'the CloudEvents headers are invalid: id: the ce_id header is missing; schemaversion: the ce_schemaversion header is missing; time: time must be a valid ISO 8601 date string',
        errors: [
          'ce_id: the ce_id header is missing',
          'ce_schemaversion: the ce_schemaversion header is missing',
          'ce_time: time must be a valid ISO 8601 date string',
        ],
      }),
    });
  });
});
