import { PgliteAuditStore } from '@llmbus/audit';
import { EventBus, InMemoryTransport } from '@llmbus/bus';
import {
  ContextRetrievedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ReviewDecidedEvent,
  ReviewRequestedEvent,
  type EventEnvelope,
  type RequestFailed,
} from '@llmbus/contracts';
import pino from 'pino';
import { failInterruptedRequests, INTERRUPTED_LIMIT } from './interrupted-requests';

const logger = pino({ level: 'silent' });

/**
 * What an earlier embedded run left in its audit store (LLMBUS_DATA_DIR) when it stopped: requests
 * finished, in review, and in flight. The in-flight ones (and only those) are failed on the next
 * start, with a reason, instead of answering their last stage's status for ever.
 */
describe('requests an earlier embedded run did not finish', () => {
  let store: PgliteAuditStore;
  let offset = 0;
  let second = 0;
  const record = (tenant: string, requestId: string, type: string) => {
    second += 1;
    const envelope: EventEnvelope = {
      id: `${requestId}-${type}`,
      source: '/llmbus/test',
      type,
      specversion: '1.0',
      time: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
      correlationid: requestId,
      tenantid: tenant,
      schemaversion: 1,
      data: { requestId },
    };
    return store.record(envelope, { topic: 'orchestration.test.v1', partition: 0, offset: String(offset++) });
  };

  beforeAll(async () => {
    store = await PgliteAuditStore.open();
    const flows: [string, string, string[]][] = [
      ['acme', 'done', [RequestSubmittedEvent.type, RequestRoutedEvent.type, RequestCompletedEvent.type]],
      ['acme', 'refused', [RequestSubmittedEvent.type, RequestFailedEvent.type]],
      ['acme', 'in-review', [RequestSubmittedEvent.type, RequestRoutedEvent.type, ReviewRequestedEvent.type]],
      ['acme', 'routed', [RequestSubmittedEvent.type, RequestRoutedEvent.type]],
      [
        'globex',
        'retrieved',
        [RequestSubmittedEvent.type, RequestRoutedEvent.type, ContextRetrievedEvent.type],
      ],
      ['acme', 'decided', [RequestSubmittedEvent.type, ReviewRequestedEvent.type, ReviewDecidedEvent.type]],
      // Not a request (no submission): e.g. a dead letter correlated by its position.
      ['acme', 'no-submission', [RequestRoutedEvent.type]],
    ];
    for (const [tenant, requestId, types] of flows)
      for (const type of types) await record(tenant, requestId, type);
  });
  afterAll(() => store.close());

  it('lists the submitted requests with no outcome and not waiting for a reviewer, of every tenant, oldest first', async () => {
    const unfinished = await store.unfinishedRequests(INTERRUPTED_LIMIT);
    expect(unfinished.map((u) => [u.tenantId, u.requestId, u.lastEvent.envelope.type])).toEqual([
      ['acme', 'routed', RequestRoutedEvent.type],
      ['globex', 'retrieved', ContextRetrievedEvent.type],
      ['acme', 'decided', ReviewDecidedEvent.type],
    ]);
  });

  it('fails each with a reason saying to submit it again, so its status is failed, once whatever the restarts', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger });
    await bus.subscribe({
      stage: 'auditor',
      notifyRequester: false,
      onRetriesExhausted: 'redeliver',
      handlers: {
        '*': async (event, context) => {
          if (!context.message) throw new Error('the in-memory transport gives every event a position');
          await store.record(event, context.message);
          return [];
        },
      },
    });
    try {
      const unfinished = await store.unfinishedRequests(INTERRUPTED_LIMIT);
      expect(await failInterruptedRequests(bus, unfinished, logger)).toBe(3);
      // The same failures again (a start cut short before they were recorded): the same event ids.
      await failInterruptedRequests(bus, unfinished, logger);
      const deadline = Date.now() + 30_000;
      while ((await store.unfinishedRequests(INTERRUPTED_LIMIT)).length > 0) {
        if (Date.now() > deadline) throw new Error('the failures were not recorded within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const status = await store.requestStatus('globex', 'retrieved');
      expect(status).toMatchObject({ status: 'failed' });
      const failures = (await store.trail('globex', 'retrieved')).filter(
        (r) => r.envelope.type === RequestFailedEvent.type,
      );
      expect(failures).toHaveLength(1);
      const failure = failures[0].envelope;
      expect(failure.correlationid).toBe('retrieved');
      expect(failure.causationid).toBe('retrieved-llmbus.context.retrieved');
      expect(failure.data as unknown as RequestFailed).toMatchObject({
        code: 'processing_error',
        stage: 'generator',
        message: expect.stringMatching(/stopped before this request finished.*submit it again/),
      });
      expect(await store.requestStatus('acme', 'in-review')).not.toMatchObject({ status: 'failed' });
    } finally {
      await bus.close();
    }
  });
});
