import {
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  findUnstorableText,
  RequestFailed,
  RequestFailedEvent,
  RequestSubmittedEvent,
  Topics,
} from '@llmbus/contracts';
import pino from 'pino';
import { replayDeadLetters } from './dead-letter-replay';
import { EventRejectedError } from './errors';
import { EventBus } from './event-bus';
import { InMemoryTransport } from './in-memory-transport';
import { outgoing } from './outgoing';
import { until } from './testing/bus-test-support';

// Dead-letter and failure records are consumed and stored too (by the auditor): whatever the
// rejected message held, they must hold only storable text, cut on code-point boundaries.
const logger = pino({ level: 'silent' });
const EMOJI = '\u{1F600}';

const headers = (id: string, correlation: string) => ({
  ce_id: id,
  ce_source: '/upstream',
  ce_type: RequestSubmittedEvent.type,
  ce_specversion: '1.0',
  ce_time: new Date().toISOString(),
  ce_correlationid: correlation,
  ce_tenantid: 'acme',
  ce_schemaversion: '1',
});

describe('dead-letter records of text that cannot be stored', () => {
  let transport: InMemoryTransport;
  let bus: EventBus;
  const dead: EventEnvelope<DeadLettered>[] = [];
  const failed: EventEnvelope<RequestFailed>[] = [];

  beforeEach(async () => {
    dead.length = 0;
    failed.length = 0;
    transport = new InMemoryTransport();
    bus = new EventBus(transport, { logger, retryDelayMs: 1, maxEventBytes: 10_000 });
    // Collected through the bus, as the auditor reads them: records that fail its edge never arrive.
    await bus.subscribe({
      stage: 'auditor',
      groupId: 'collector',
      notifyRequester: false,
      handlers: {
        [DeadLetteredEvent.type]: async (e) => (dead.push(e as EventEnvelope<DeadLettered>), []),
        [RequestFailedEvent.type]: async (e) => (failed.push(e as EventEnvelope<RequestFailed>), []),
      },
    });
  });
  afterEach(() => bus.close());

  it('replaces raw U+0000 bytes of the kept value and headers, marks the record, and replay skips it', async () => {
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => [] },
    });
    const value = Buffer.from('{"requestId":"nul-raw","input":{"subject":"a\u0000b"}}', 'utf8');
    await transport.produceRaw(
      Topics.Request.name,
      'nul-raw',
      { ...headers('raw-1', 'nul-raw'), 'x-note': 'binary\u0000header' },
      value,
    );
    await until(() => dead.length === 1 && failed.length === 1);
    const record = dead[0].data;
    expect(record).toMatchObject({ reasonCode: 'invalid_event', originalSanitised: true });
    expect(record.originalValue).toBe('{"requestId":"nul-raw","input":{"subject":"a\uFFFDb"}}');
    expect(record.originalHeaders['x-note']).toBe('binary\uFFFDheader');
    expect(findUnstorableText(record)).toEqual([]);
    expect(failed[0].data).toMatchObject({ requestId: 'nul-raw', code: 'invalid_event' });
    // The kept copy is not the message received: replaying it would send different bytes.
    expect(await replayDeadLetters(bus, 'router')).toEqual({ scanned: 1, replayed: 0, truncated: 1 });
  });

  it('cuts the kept copy of an oversize message on a code-point boundary', async () => {
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => [] },
    });
    // 10,000-byte limit: the copy keeps 1,250 code units, which falls inside an emoji here.
    const value = `x${EMOJI.repeat(2600)}`;
    await transport.produceRaw(
      Topics.Request.name,
      'big-emoji',
      headers('raw-2', 'big-emoji'),
      Buffer.from(value),
    );
    await until(() => dead.length === 1);
    const record = dead[0].data;
    expect(record).toMatchObject({ reasonCode: 'oversize', originalValueTruncated: true });
    expect(record.originalSanitised).toBeUndefined();
    expect(record.originalValue).toBe(value.slice(0, 1249));
    expect(findUnstorableText(record)).toEqual([]);
  });

  it('cuts a rejection message that quotes emoji on a code-point boundary, in the dead letter and RequestFailed', async () => {
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async () => {
          throw new EventRejectedError('invalid_input', `x${EMOJI.repeat(1500)}`, [`y${EMOJI.repeat(600)}`]);
        },
      },
    });
    await bus.publish([
      outgoing(
        RequestSubmittedEvent,
        { requestId: 'quote-1', eventType: 'ticket.created', input: {}, requester: { groups: [] } },
        { tenantId: 'acme' },
      ),
    ]);
    await until(() => dead.length === 1 && failed.length === 1);
    expect(failed[0].data.message).toHaveLength(1999);
    expect(failed[0].data.details[0]).toHaveLength(999);
    expect(findUnstorableText(failed[0].data)).toEqual([]);
    expect(findUnstorableText(dead[0].data)).toEqual([]);
  });

  it('rejects a structured-mode event whose attributes or data hold U+0000, naming each field', async () => {
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => [] },
    });
    const event = {
      specversion: '1.0',
      id: 'evt-structured-nul',
      source: '/upstream/sdk',
      type: RequestSubmittedEvent.type,
      time: '2026-01-01T12:00:00Z',
      subject: 'ticket\u00009',
      tenantid: 'acme',
      correlationid: 'structured-nul',
      schemaversion: 1,
      data: {
        requestId: 'structured-nul',
        eventType: 'ticket.created',
        input: { subject: 'a\u0000' },
        requester: { groups: [] },
      },
    };
    await transport.produceRaw(
      Topics.Request.name,
      'structured-nul',
      { 'content-type': 'application/cloudevents+json' },
      Buffer.from(JSON.stringify(event)),
    );
    await until(() => dead.length === 1 && failed.length === 1);
    expect(dead[0].data.reasonCode).toBe('invalid_event');
    expect(dead[0].data.errors).toEqual([expect.stringMatching(/subject: contains U\+0000/)]);
    // Fix the attribute, and the data's text is what is refused.
    await transport.produceRaw(
      Topics.Request.name,
      'structured-nul',
      { 'content-type': 'application/cloudevents+json' },
      Buffer.from(JSON.stringify({ ...event, id: 'evt-structured-nul-2', subject: 'ticket-9' })),
    );
    await until(() => dead.length === 2 && failed.length === 2);
    expect(dead[1].data.reasonCode).toBe('invalid_payload');
    expect(failed[1].data.message).toMatch(/input\.subject: contains U\+0000/);
  });
});
