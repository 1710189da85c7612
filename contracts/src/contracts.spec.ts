import {
  assertCatalogConsistent,
  buildJsonSchemas,
  EVENTS,
  ToolCallsRequestedEvent,
  attributesToHeaders,
  DeadLetteredEvent,
  eventByType,
  eventTypesOnTopic,
  headersToAttributes,
  RequestSubmittedEvent,
  TOPICS,
  Topics,
  validateAttributes,
  validatePayload,
} from './index';

describe('contracts', () => {
  it('registers every event topic and unique event types', () => {
    expect(() => assertCatalogConsistent()).not.toThrow();
    expect(new Set(TOPICS.map((t) => t.name)).size).toBe(TOPICS.length);
    expect(TOPICS.every((t) => /\.v\d+$/.test(t.name))).toBe(true);
  });

  it('lists both outcome events on the result topic and DeadLettered on every dead-letter topic', () => {
    expect(eventTypesOnTopic(Topics.Result.name)).toEqual([
      'llmbus.request.completed',
      'llmbus.request.failed',
    ]);
    expect(eventTypesOnTopic('orchestration.dead-letter.validator.v1')).toEqual([DeadLetteredEvent.type]);
    expect(eventByType('nope')).toBeUndefined();
  });

  it('round-trips envelope attributes through CloudEvents binary-mode headers', () => {
    const attrs = {
      id: 'e1',
      source: '/llmbus/router',
      type: 'llmbus.request.submitted',
      specversion: '1.0' as const,
      time: new Date(0).toISOString(),
      correlationid: 'r1',
      tenantid: 'acme',
      schemaversion: 1,
      attempt: 2,
    };
    const headers = attributesToHeaders(attrs);
    expect(headers['ce_tenantid']).toBe('acme');
    expect(headers['content-type']).toBe('application/json');
    const parsed = validateAttributes(headersToAttributes(headers));
    expect(parsed).toEqual({ ok: true, value: expect.objectContaining(attrs) });
  });

  it('rejects a missing tenant and a malformed traceparent with named attributes', () => {
    const result = validateAttributes({
      id: 'e1',
      source: 's',
      type: 't',
      specversion: '1.0',
      time: new Date().toISOString(),
      correlationid: 'r1',
      schemaversion: 1,
      traceparent: 'garbage',
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors.some((e) => e.startsWith('tenantid:'))).toBe(true);
      expect(result.errors.some((e) => e.startsWith('traceparent:'))).toBe(true);
    }
  });

  it('names nested and wrong-typed payload fields in validation errors', () => {
    const result = validatePayload(RequestSubmittedEvent, {
      requestId: 'r-1',
      eventType: 'ticket.created',
      input: 'not an object',
      requester: { groups: [3] },
      extra: true,
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^input: /),
          expect.stringMatching(/^requester\.groups: /),
          expect.stringMatching(/^extra: property extra should not exist/),
        ]),
      );
    }
  });

  it('accepts a valid payload and derives its key from the request id', () => {
    const payload = {
      requestId: 'r-1',
      eventType: 'ticket.created',
      input: { subject: 'x' },
      requester: { groups: [] },
    };
    const result = validatePayload(RequestSubmittedEvent, payload);
    expect(result.ok).toBe(true);
    if (result.ok) expect(RequestSubmittedEvent.key(result.value)).toBe('r-1');
  });
});

describe('generated JSON Schemas', () => {
  it('give every event payload its properties, a payload class that only renames its parent included', () => {
    const schemas = buildJsonSchemas();
    for (const event of EVENTS) {
      const schema = schemas[event.type] as { properties?: Record<string, unknown>; required?: string[] };
      expect([event.type, Object.keys(schema.properties ?? {}).length > 0]).toEqual([event.type, true]);
      expect([event.type, (schema.required ?? []).length > 0]).toEqual([event.type, true]);
    }
    const requested = schemas[ToolCallsRequestedEvent.type] as {
      required: string[];
      definitions: Record<string, unknown>;
    };
    expect(requested.required).toEqual(expect.arrayContaining(['requestId', 'rounds', 'usage']));
    expect(Object.keys(requested.definitions)).toEqual(expect.arrayContaining(['ToolRound', 'ModelUsage']));
  });
});
