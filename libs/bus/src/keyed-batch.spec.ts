import { ConcurrencyLimit, KeyedMessage, MessageOutcome, processKeyedBatch } from './keyed-batch';

interface Message extends KeyedMessage {
  readonly name: string;
}

const batch = (...specs: [key: string | null, name: string][]): Message[] =>
  specs.map(([key, name], i) => ({
    offset: String(100 + i),
    key: key === null ? null : Buffer.from(key),
    name,
  }));

/** A handler whose calls stay open until the test finishes them, recording what ran when. */
function gatedHandler() {
  const open = new Map<string, (outcome: MessageOutcome | Error) => void>();
  const started: string[] = [];
  const handle = (m: Message) =>
    new Promise<MessageOutcome>((resolve, reject) => {
      started.push(m.name);
      open.set(m.name, (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)));
    });
  const finish = async (name: string, outcome: MessageOutcome | Error = 'handled') => {
    const done = open.get(name);
    if (!done) throw new Error(`${name} is not running; running: ${[...open.keys()].join(', ')}`);
    open.delete(name);
    done(outcome);
    await flushMicrotasks();
  };
  return { handle, started, finish, running: () => [...open.keys()] };
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function run(messages: Message[], handler: ReturnType<typeof gatedHandler>, max = 8, sequential = false) {
  const commits: [string, boolean][] = [];
  const incomplete: string[] = [];
  const done = processKeyedBatch(messages, {
    limit: new ConcurrencyLimit(max),
    sequential,
    active: () => true,
    handle: handler.handle,
    completed: async (offset, commit) => void commits.push([offset, commit]),
    incomplete: (offset) => void incomplete.push(offset),
  });
  return { commits, done, incomplete };
}

describe('processKeyedBatch', () => {
  it('handles messages of different keys at once and messages of one key in offset order', async () => {
    const handler = gatedHandler();
    const { done } = run(batch(['a', 'a1'], ['b', 'b1'], ['a', 'a2'], ['c', 'c1']), handler);
    await flushMicrotasks();
    expect(handler.running()).toEqual(['a1', 'b1', 'c1']);
    await handler.finish('a1');
    expect(handler.running()).toEqual(['b1', 'c1', 'a2']);
    for (const name of ['b1', 'c1', 'a2']) await handler.finish(name);
    await done;
  });

  it('commits only a contiguous prefix: a later message done early is committed with the earlier one', async () => {
    const handler = gatedHandler();
    const { commits, done } = run(batch(['a', 'a1'], ['b', 'b1'], ['c', 'c1']), handler);
    await flushMicrotasks();
    await handler.finish('b1');
    await handler.finish('c1');
    expect(commits).toEqual([]);
    await handler.finish('a1');
    await done;
    expect(commits.at(-1)).toEqual(['102', true]);
    expect(commits.every(([offset]) => offset === '100' || offset === '102')).toBe(true);
  });

  it('never has more than the limit in flight across keys', async () => {
    const handler = gatedHandler();
    const { done } = run(batch(['a', 'a1'], ['b', 'b1'], ['c', 'c1'], ['d', 'd1']), handler, 2);
    await flushMicrotasks();
    expect(handler.running()).toEqual(['a1', 'b1']);
    await handler.finish('b1');
    expect(handler.running()).toEqual(['a1', 'c1']);
    for (const name of ['a1', 'c1', 'd1']) await handler.finish(name);
    await done;
  });

  it('in sequential mode handles one message at a time, in partition order, whatever the keys', async () => {
    const handler = gatedHandler();
    const { commits, done } = run(batch(['a', 'a1'], ['b', 'b1']), handler, 8, true);
    await flushMicrotasks();
    expect(handler.running()).toEqual(['a1']);
    await handler.finish('a1', 'committed');
    expect(handler.running()).toEqual(['b1']);
    await handler.finish('b1');
    await done;
    expect(commits).toEqual([
      ['100', false],
      ['101', true],
    ]);
  });

  it('after a failure starts nothing more, commits the prefix before it and rethrows', async () => {
    const handler = gatedHandler();
    const { commits, done } = run(batch(['a', 'a1'], ['b', 'b1'], ['a', 'a2'], ['c', 'c1']), handler, 3);
    const outcome = done.then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    await flushMicrotasks();
    await handler.finish('b1', new Error('publish failed'));
    // a1 and c1 were running already and finish; a2 (after a1) never starts.
    await handler.finish('a1');
    await handler.finish('c1');
    expect(await outcome).toBe('publish failed');
    expect(handler.started).toEqual(['a1', 'b1', 'c1']);
    expect(commits.at(-1)).toEqual(['100', true]);
  });

  it('reports where to read again from: the first message not handled, not the last one that stopped', async () => {
    // a2 (key a) waits behind a1; b1 and c1 (other keys) are not due yet and stop. Reading again
    // from c1 (the last stop) would skip b1, and from b1 would skip a2, which never started.
    const handler = gatedHandler();
    const { commits, done, incomplete } = run(
      batch(['a', 'a1'], ['b', 'b1'], ['a', 'a2'], ['c', 'c1']),
      handler,
    );
    await flushMicrotasks();
    await handler.finish('b1', 'stop');
    await handler.finish('c1', 'stop');
    await handler.finish('a1');
    await done;
    expect(handler.started).toEqual(['a1', 'b1', 'c1']);
    expect(commits).toEqual([['100', true]]);
    expect(incomplete).toEqual(['101']);
  });

  it('reports nothing when every message was handled', async () => {
    const handler = gatedHandler();
    const { done, incomplete } = run(batch(['a', 'a1'], ['b', 'b1']), handler);
    await flushMicrotasks();
    await handler.finish('a1');
    await handler.finish('b1');
    await done;
    expect(incomplete).toEqual([]);
  });

  it('a deferred message (stop) is neither committed nor followed by later messages', async () => {
    const handler = gatedHandler();
    const { commits, done } = run(batch(['a', 'a1'], ['a', 'a2']), handler);
    await flushMicrotasks();
    await handler.finish('a1', 'stop');
    await done;
    expect(handler.started).toEqual(['a1']);
    expect(commits).toEqual([]);
  });

  it('keeps the order of messages without a key', async () => {
    const handler = gatedHandler();
    const { done } = run(batch([null, 'n1'], [null, 'n2']), handler);
    await flushMicrotasks();
    expect(handler.running()).toEqual(['n1']);
    await handler.finish('n1');
    await handler.finish('n2');
    await done;
  });
});
