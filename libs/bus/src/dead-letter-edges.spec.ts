import {
  DeadLettered,
  DeadLetteredEvent,
  DeadLetterTopics,
  EventEnvelope,
  RequestFailed,
  RequestFailedEvent,
  RequestSubmittedEvent,
  Topics,
} from '@llmbus/contracts';
import pino from 'pino';
import { EventBus } from './event-bus';
import { InMemoryTransport } from './in-memory-transport';
import { until } from './testing/bus-test-support';

const logger = pino({ level: 'silent' });

function headers(overrides: Record<string, string>): Record<string, string> {
  return {
    ce_id: 'e-1',
    ce_source: '/upstream',
    ce_type: RequestSubmittedEvent.type,
    ce_specversion: '1.0',
    ce_time: new Date().toISOString(),
    ce_correlationid: 'r-1',
    ce_tenantid: 'acme',
    ce_schemaversion: '1',
    ...overrides,
  };
}

const valid = Buffer.from(
  JSON.stringify({ requestId: 'r-1', eventType: 'ticket.created', input: {}, requester: { groups: [] } }),
);

describe('dead letters of malformed messages', () => {
  let transport: InMemoryTransport;
  let bus: EventBus;
  let dead: EventEnvelope<object>[];
  let failed: EventEnvelope<object>[];

  beforeEach(async () => {
    transport = new InMemoryTransport();
    bus = new EventBus(transport, { logger, retryDelayMs: 1 });
    dead = [];
    failed = [];
    // Observers validate every envelope they read, as the auditor does: a published dead letter or
    // RequestFailed with an envelope they cannot accept would be dead-lettered in turn.
    await bus.subscribe({
      stage: 'auditor',
      groupId: 'observer',
      notifyRequester: false,
      handlers: {
        [DeadLetteredEvent.type]: async (e) => (dead.push(e), []),
        [RequestFailedEvent.type]: async (e) => (failed.push(e), []),
      },
    });
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => [] },
    });
  });
  afterEach(() => bus.close());

  it('refuses a value that is not valid UTF-8 instead of decoding it with replacement characters', async () => {
    const bytes = Buffer.concat([valid.subarray(0, 20), Buffer.from([0xc0, 0xaf]), valid.subarray(20)]);
    await transport.produceRaw(Topics.Request.name, 'r-1', headers({}), bytes);
    await until(() => dead.length === 1 && failed.length === 1, 5000);
    expect(dead[0].data as DeadLettered).toMatchObject({
      reasonCode: 'invalid_event',
      errors: ['value: not UTF-8'],
    });
    expect((failed[0].data as RequestFailed).message).toMatch(/not valid UTF-8/);
  });

  it('gives every message with an empty event id its own dead letter', async () => {
    for (const key of ['a', 'b', 'c']) {
      await transport.produceRaw(
        Topics.Request.name,
        key,
        headers({ ce_id: '', ce_correlationid: key }),
        valid,
      );
    }
    await until(() => dead.length === 3, 5000);
    expect(new Set(dead.map((d) => d.id)).size).toBe(3);
    expect(new Set(failed.map((f) => f.id)).size).toBe(failed.length);
  });

  it('publishes valid envelopes for a message whose event id and correlation id are too long', async () => {
    const long = 'x'.repeat(300);
    await transport.produceRaw(
      Topics.Request.name,
      'r-1',
      headers({ ce_id: long, ce_correlationid: long, ce_time: 'yesterday' }),
      valid,
    );
    await until(() => dead.length === 1, 5000);
    // Let the observers read anything else that may come.
    await new Promise((r) => setTimeout(r, 100));
    expect(dead[0].causationid?.length).toBeLessThanOrEqual(200);
    expect(dead[0].correlationid.length).toBeLessThanOrEqual(200);
    // The observer (stage "auditor") dead-letters envelopes it cannot accept: it had none.
    const observerDeadLetters = await transport.lag('nobody', [DeadLetterTopics.auditor.name]);
    expect(observerDeadLetters.reduce((n, p) => n + p.lag, 0)).toBe(0);
  });

  it('dead-letters a payload nested too deep to validate instead of redelivering it forever', async () => {
    const deep = '{"a":'.repeat(60_000) + '1' + '}'.repeat(60_000);
    const value = Buffer.from(
      `{"requestId":"r-1","eventType":"ticket.created","input":${deep},"requester":{"groups":[]}}`,
    );
    await transport.produceRaw(Topics.Request.name, 'r-1', headers({}), value);
    await until(() => dead.length === 1, 15_000);
    expect(dead[0].data as DeadLettered).toMatchObject({ reasonCode: expect.stringMatching(/invalid_/) });
  });

  it('dead-letters a message whose headers or key alone would overflow the record, instead of redelivering it for ever', async () => {
    // 200 000 control characters: a 200 KB header Kafka accepts, which JSON escapes to 1.2 MB.
    const control = '\u0001'.repeat(200_000);
    await transport.produceRaw(
      Topics.Request.name,
      'r-1',
      headers({ ce_id: '', llmbus_pii: control, [`x-${'n'.repeat(300)}`]: 'v' }),
      valid,
    );
    await transport.produceRaw(Topics.Request.name, 'k'.repeat(5000), headers({ ce_id: '' }), valid);
    await until(() => dead.length === 2 && failed.length === 2, 15_000);
    for (const envelope of dead) {
      const letter = envelope.data as DeadLettered;
      expect(Buffer.byteLength(JSON.stringify(letter))).toBeLessThanOrEqual(1024 * 1024);
      // Cut: not the message as received, so it is never replayed as if it were.
      expect(letter.originalSanitised).toBe(true);
      expect(letter.originalHeaders['ce_type']).toBe(RequestSubmittedEvent.type);
    }
    const [withHeaders, withKey] = dead.map((d) => d.data as DeadLettered);
    expect(withHeaders.originalHeaders['llmbus_pii'].length).toBeLessThan(control.length);
    expect(withKey.originalKey!.length).toBeLessThanOrEqual(1000);
  });

  it('keeps the headers llmbus writes whole, so the dead letter can be replayed as received', async () => {
    // The largest attestation a stage attaches (16 KiB of JSON with its MAC), plus the ce_* headers.
    const attestation = `{"v":2,"s":{${'"x":[0,8],'.repeat(1700)}}}.${'m'.repeat(43)}`.slice(0, 16 * 1024);
    await transport.produceRaw(
      Topics.Request.name,
      'r-1',
      headers({ ce_id: '', llmbus_pii: attestation }),
      valid,
    );
    await until(() => dead.length === 1, 15_000);
    const letter = dead[0].data as DeadLettered;
    expect(letter.originalHeaders['llmbus_pii']).toBe(attestation);
    expect(letter.originalSanitised).toBeUndefined();
  });
});
