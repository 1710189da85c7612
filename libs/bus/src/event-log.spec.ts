import { RequestSubmittedEvent } from '@llmbus/contracts';
import pino from 'pino';
import { EventRejectedError } from './errors';
import { EventBus } from './event-bus';
import { InMemoryTransport } from './in-memory-transport';
import { outgoing } from './outgoing';
import { submitted, until } from './testing/bus-test-support';

/** A bus whose log lines are kept (JSON objects), counting the child loggers made. */
function loggedBus(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const counts = { children: 0 };
  const logger = pino(
    { level, onChild: () => void (counts.children += 1) },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const bus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
  return { bus, lines, counts };
}

describe('the per-event logger of a stage', () => {
  it('binds request, tenant, trace, event id and type to what a handler logs', async () => {
    const { bus, lines } = loggedBus();
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (_event, ctx) => (ctx.log.info({ rows: 2 }, 'looked up'), []),
      },
    });
    const [sent] = await bus.publish([
      outgoing(RequestSubmittedEvent, submitted('r-log'), { tenantId: 'acme' }),
    ]);
    await until(() => lines.some((l) => l['msg'] === 'looked up'));
    expect(lines.find((l) => l['msg'] === 'looked up')).toMatchObject({
      stage: 'router',
      correlationId: 'r-log',
      tenant: 'acme',
      traceId: sent.traceparent?.split('-')[1],
      eventId: sent.id,
      eventType: RequestSubmittedEvent.type,
      rows: 2,
    });
    await bus.close();
  });

  it('makes no logger for an event whose handling logs nothing, and one for each that logs', async () => {
    const { bus, counts } = loggedBus();
    let handled = 0;
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (event, ctx) => {
          if ((event.data as { requestId: string }).requestId.startsWith('loud')) ctx.log.info('noted');
          handled += 1;
          return [];
        },
      },
    });
    const before = counts.children;
    for (const id of ['quiet-1', 'quiet-2', 'loud-1', 'quiet-3', 'loud-2']) {
      await bus.publish([outgoing(RequestSubmittedEvent, submitted(id), { tenantId: 'acme' })]);
    }
    await until(() => handled === 5);
    expect(counts.children - before).toBe(2);
    await bus.close();
  });

  it('makes none for a handler that passes its logger on and writes only lines whose level is off', async () => {
    const { bus, counts } = loggedBus();
    let handled = 0;
    const quietWork = (log: pino.Logger) => log.debug({ step: 1 }, 'detail');
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (_event, ctx) => {
          quietWork(ctx.log);
          handled += 1;
          return [];
        },
      },
    });
    const before = counts.children;
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r-quiet'), { tenantId: 'acme' })]);
    await until(() => handled === 1);
    expect(counts.children).toBe(before);
    await bus.close();
  });

  it('logs a rejected event at error with its request id, without the handler having logged', async () => {
    const { bus, lines } = loggedBus();
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async () => {
          throw new EventRejectedError('unknown_workflow', 'no such workflow');
        },
      },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r-bad'), { tenantId: 'acme' })]);
    await until(() => lines.some((l) => l['msg'] === 'event rejected'));
    expect(lines.find((l) => l['msg'] === 'event rejected')).toMatchObject({
      level: 50,
      stage: 'router',
      correlationId: 'r-bad',
      tenant: 'acme',
      code: 'unknown_workflow',
    });
    await bus.close();
  });

  it('writes the debug line of a handled event when debug is on', async () => {
    const { bus, lines } = loggedBus('debug');
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => [] },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r-debug'), { tenantId: 'acme' })]);
    await until(() => lines.some((l) => l['msg'] === 'event handled'));
    expect(lines.find((l) => l['msg'] === 'event handled')).toMatchObject({
      correlationId: 'r-debug',
      level: 20,
    });
    await bus.close();
  });
});
