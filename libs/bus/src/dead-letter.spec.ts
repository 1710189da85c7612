import {
  DeadLettered,
  DeadLetterTopics,
  RequestFailed,
  RequestFailedEvent,
  TerminalError,
  UNKNOWN_TENANT,
} from '@llmbus/contracts';
import { deadLetterEvents, DeadLetterSetup, failureCodeOf, rejectionOfFailure } from './dead-letter';
import { EventRejectedError } from './errors';
import type { Rejection } from './rejection';
import type { RawMessage } from './transport';

const setup: DeadLetterSetup = {
  stage: 'router',
  groupId: 'llmbus.router',
  notifyRequester: true,
  maxEventBytes: 8 * 1024,
  deadLetterTopic: DeadLetterTopics.router,
};
const now = new Date('2026-01-01T00:00:00Z');

const message = (overrides: Partial<RawMessage> = {}): RawMessage => ({
  topic: 'llmbus.request',
  partition: 2,
  offset: '41',
  key: 'req-1',
  headers: { ce_type: 'llmbus.request.submitted', ce_id: 'evt-1' },
  value: Buffer.from('{"requestId":"req-1"}'),
  ...overrides,
});

const rejection: Rejection = {
  code: 'invalid_payload',
  reason: 'RequestSubmitted payload is invalid: input: input must be an object',
  errors: ['input: input must be an object'],
  correlationId: 'req-1',
  tenant: 'acme',
  causeId: 'evt-1',
  causeSource: '/upstream',
  replyTo: 'ticket-9',
};

describe('deadLetterEvents', () => {
  it('builds a DeadLettered copy on the dead-letter topic and a RequestFailed with the same code, reason and paths', () => {
    const { cause, events } = deadLetterEvents(message(), rejection, setup, now);
    expect(events.map((e) => e.definition.type)).toEqual([
      'llmbus.event.dead-lettered',
      RequestFailedEvent.type,
    ]);
    expect(events[0].topic).toBe(DeadLetterTopics.router);
    expect(events[0].payload as DeadLettered).toMatchObject({
      stage: 'router',
      consumerGroup: 'llmbus.router',
      originalTopic: 'llmbus.request',
      originalPartition: 2,
      originalOffset: '41',
      originalKey: 'req-1',
      originalValue: '{"requestId":"req-1"}',
      reasonCode: 'invalid_payload',
      reason: rejection.reason,
      errors: rejection.errors,
      correlationId: 'req-1',
    });
    expect(events[1].payload as RequestFailed).toEqual({
      requestId: 'req-1',
      code: 'invalid_payload',
      message: rejection.reason,
      stage: 'router',
      details: rejection.errors,
      replyTo: 'ticket-9',
    });
    expect(cause).toEqual({
      stage: 'router',
      envelope: expect.objectContaining({
        id: 'evt-1',
        tenantid: 'acme',
        correlationid: 'req-1',
        time: now.toISOString(),
      }),
    });
  });

  it('tells no requester when the stage does not, when no request id is usable, or when the rejected event is a RequestFailed', () => {
    const types = (r: Rejection, m: RawMessage, notifyRequester = true) =>
      deadLetterEvents(m, r, { ...setup, notifyRequester }, now).events.map((e) => e.definition.type);
    expect(types(rejection, message(), false)).toEqual(['llmbus.event.dead-lettered']);
    expect(types({ ...rejection, correlationId: 'not a request id' }, message())).toEqual([
      'llmbus.event.dead-lettered',
    ]);
    expect(types(rejection, message({ headers: { ce_type: RequestFailedEvent.type } }))).toEqual([
      'llmbus.event.dead-lettered',
    ]);
    // The error itself may say that a RequestFailed would be misread (another request's id).
    expect(types({ ...rejection, notifyRequester: false }, message())).toEqual([
      'llmbus.event.dead-lettered',
    ]);
  });

  it('files a rejection with an unusable tenant and id under the unknown tenant, identified by the record position', () => {
    const { cause } = deadLetterEvents(
      message(),
      { ...rejection, tenant: 'NOT OK', causeId: '' },
      setup,
      now,
    );
    expect(cause.envelope).toMatchObject({ tenantid: UNKNOWN_TENANT, id: 'llmbus.request:2:41' });
  });

  it('cuts a large value to fit the event limit and marks a copy whose text had to be made storable', () => {
    const big = deadLetterEvents(message({ value: Buffer.from('x'.repeat(5000)) }), rejection, setup, now);
    const payload = big.events[0].payload as DeadLettered;
    expect(payload.originalValue).toHaveLength(1024);
    expect(payload.originalValueTruncated).toBe(true);
    const nul = deadLetterEvents(message({ value: Buffer.from('a\u0000b') }), rejection, setup, now);
    expect(nul.events[0].payload as DeadLettered).toMatchObject({
      originalValue: 'a\uFFFDb',
      originalSanitised: true,
    });
  });
});

describe('rejectionOfFailure', () => {
  it('keeps the code, message and details of a terminal error', () => {
    const error = new EventRejectedError('unknown_workflow', 'no workflow "x"; known: a, b', ['workflow: x']);
    expect(rejectionOfFailure(error, { stage: 'generator', attempts: 1, retriedRounds: 0 })).toEqual({
      code: 'unknown_workflow',
      reason: 'no workflow "x"; known: a, b',
      errors: ['workflow: x'],
    });
  });

  it('passes on an EventRejectedError that tells no requester, and only that', () => {
    const silent = new EventRejectedError('request_id_conflict', 'request id "r" was already used', [], {
      notifyRequester: false,
    });
    const failure = { stage: 'router', attempts: 1, retriedRounds: 0 } as const;
    expect(rejectionOfFailure(silent, failure)).toEqual({
      code: 'request_id_conflict',
      reason: 'request id "r" was already used',
      errors: [],
      notifyRequester: false,
    });
    expect(rejectionOfFailure(new EventRejectedError('invalid_input', 'bad'), failure)).not.toHaveProperty(
      'notifyRequester',
    );
  });

  it('keeps the code of a TerminalError thrown by domain code', () => {
    const error = new TerminalError('invalid_input', 'input.priority must be one of low, high', [
      'input.priority',
    ]);
    expect(rejectionOfFailure(error, { stage: 'router', attempts: 1, retriedRounds: 0 })).toEqual({
      code: 'invalid_input',
      reason: 'input.priority must be one of low, high',
      errors: ['input.priority'],
    });
  });

  it('reports any other error with the attempts and delayed rounds it had', () => {
    expect(
      rejectionOfFailure(new Error('store down'), { stage: 'generator', attempts: 3, retriedRounds: 2 }),
    ).toEqual({
      code: 'processing_error',
      reason:
        'generator could not process the event after 3 attempt(s) and 2 delayed retry round(s): store down',
      errors: [],
    });
  });

  it('maps a model error to model_error', () => {
    const error = Object.assign(new Error('429'), { name: 'ModelError' });
    expect(failureCodeOf(error)).toBe('model_error');
  });

  it('maps a rate-limited model error that outlasted its retries to rate_limited, keeping the limit in the reason', () => {
    const error = Object.assign(
      new Error('rate limit reached: tenant acme requests per minute (1); the next slot is in 59000 ms'),
      { name: 'ModelError', code: 'rate_limited', retryAfterMs: 59_000 },
    );
    expect(rejectionOfFailure(error, { stage: 'generator', attempts: 1, retriedRounds: 1 })).toEqual({
      code: 'rate_limited',
      reason:
        'generator could not process the event after 1 attempt(s) and 1 delayed retry round(s): rate limit reached: tenant acme requests per minute (1); the next slot is in 59000 ms',
      errors: [],
    });
  });

  it('marks a copy sanitised when the value, key or a header was not valid UTF-8 (decoding replaced bytes)', () => {
    // Bytes that are not UTF-8 decode to U+FFFD: a replay would publish other bytes than were received.
    const binaryValue = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const value = deadLetterEvents(message({ value: binaryValue }), rejection, setup, now);
    expect(value.events[0].payload as DeadLettered).toMatchObject({ originalSanitised: true });
    // The transport hands keys and header values over decoded, a binary key's bytes as U+FFFD.
    const key = Buffer.from([0x00, 0x9f, 0x92, 0x41]).toString('utf8');
    const binaryKey = deadLetterEvents(message({ key }), rejection, setup, now);
    expect(binaryKey.events[0].payload as DeadLettered).toMatchObject({ originalSanitised: true });
    const header = Buffer.from([0xc3, 0x28]).toString('utf8');
    const binaryHeader = deadLetterEvents(
      message({ headers: { ...message().headers, trace: header } }),
      rejection,
      setup,
      now,
    );
    expect(binaryHeader.events[0].payload as DeadLettered).toMatchObject({ originalSanitised: true });
    // Valid UTF-8 stays replayable.
    const utf8 = deadLetterEvents(
      message({ value: Buffer.from('{"input":"café ✓"}') }),
      rejection,
      setup,
      now,
    );
    expect((utf8.events[0].payload as DeadLettered).originalSanitised).toBeUndefined();
  });
});
