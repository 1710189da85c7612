import {
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  RequestFailed,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
} from '@llmbus/contracts';
import pino from 'pino';
import { EventBus } from './event-bus';
import { InMemoryTransport } from './in-memory-transport';
import { outgoing } from './outgoing';
import { until } from './testing/bus-test-support';

const logger = pino({ level: 'silent' });

/**
 * A handler whose output is over the event limit (LLMBUS_MAX_EVENT_BYTES): the output can never be
 * published, so the event is dead-lettered as `oversize` and the requester told, instead of being
 * handled again and again (7 times in 5 s in embedded mode, without a log line; on Kafka it held its
 * key's events behind it for ever).
 */
describe('an event whose output is over the event limit', () => {
  it('is dead-lettered as oversize once, and the requester gets a RequestFailed naming the limit', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1, maxEventBytes: 8192 });
    const dead: EventEnvelope<object>[] = [];
    const failed: EventEnvelope<object>[] = [];
    let handled = 0;
    try {
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
        handlers: {
          [RequestSubmittedEvent.type]: async (event) => {
            handled += 1;
            const request = event.data as { requestId: string };
            return [
              outgoing(RequestRoutedEvent, {
                requestId: request.requestId,
                input: { body: 'x'.repeat(10_000) },
              } as never),
            ];
          },
        },
      });
      await bus.publish([
        outgoing(
          RequestSubmittedEvent,
          { requestId: 'r-1', eventType: 'ticket.created', input: {}, requester: { groups: [] } },
          { tenantId: 'acme' },
        ),
      ]);
      await until(() => dead.length === 1 && failed.length === 1, 15_000);
      expect(dead[0].data as DeadLettered).toMatchObject({ reasonCode: 'oversize' });
      expect((failed[0].data as RequestFailed).message).toMatch(
        /over the 8192-byte limit \(LLMBUS_MAX_EVENT_BYTES\)/,
      );
      expect(handled).toBe(1);
    } finally {
      await bus.close();
    }
  });
});
