import { BoundedQueue } from './bounded-queue';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const full = (limit: number) => new Error(`full at ${limit}`);

describe('BoundedQueue', () => {
  it('runs one task at a time in arrival order', async () => {
    const queue = new BoundedQueue(10, full);
    const order: string[] = [];
    const first = deferred<void>();
    const a = queue.run(async () => {
      order.push('a start');
      await first.promise;
      order.push('a end');
    });
    const b = queue.run(async () => {
      order.push('b');
    });
    await Promise.resolve();
    expect(order).toEqual(['a start']);
    expect(queue.size).toBe(2);
    first.resolve();
    await Promise.all([a, b]);
    expect(order).toEqual(['a start', 'a end', 'b']);
  });

  it('rejects at once when the running slot and every waiting place are taken', async () => {
    const queue = new BoundedQueue(1, full);
    const gate = deferred<void>();
    const running = queue.run(() => gate.promise);
    const waiting = queue.run(async () => 'second');
    await expect(queue.run(async () => 'third')).rejects.toThrow('full at 1');
    gate.resolve();
    await running;
    await expect(waiting).resolves.toBe('second');
  });

  it('drops a waiter whose signal aborts, without running it', async () => {
    const queue = new BoundedQueue(5, full);
    const gate = deferred<void>();
    const running = queue.run(() => gate.promise);
    const controller = new AbortController();
    const task = jest.fn(async () => 'never');
    const waiting = queue.run(task, controller.signal);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    expect(queue.size).toBe(1);
    gate.resolve();
    await running;
    expect(task).not.toHaveBeenCalled();
  });

  it('rejects an aborted running task at once but keeps its slot until the task settles', async () => {
    const queue = new BoundedQueue(5, full);
    const gate = deferred<string>();
    const controller = new AbortController();
    const running = queue.run(() => gate.promise, controller.signal);
    const next = jest.fn(async () => 'next');
    const queued = queue.run(next);
    controller.abort(new Error('timeout'));
    await expect(running).rejects.toThrow('timeout');
    expect(next).not.toHaveBeenCalled();
    gate.resolve('late');
    await expect(queued).resolves.toBe('next');
  });
});
