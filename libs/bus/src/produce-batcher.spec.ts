import { ProduceBatcher } from './produce-batcher';
import type { OutgoingRecord } from './transport';

function record(key: string, value = `v-${key}`): OutgoingRecord {
  return { topic: 't', key, headers: { ce_id: key }, value };
}

/** A send whose acknowledgements the test gives one by one. */
function controlledSend() {
  const sends: { records: readonly OutgoingRecord[]; ack: () => void; fail: (e: Error) => void }[] = [];
  const send = (records: readonly OutgoingRecord[]) =>
    new Promise<void>((resolve, reject) => sends.push({ records, ack: resolve, fail: reject }));
  return { sends, send };
}

/** Lets queued promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ProduceBatcher', () => {
  it('sends a call at once when nothing is in flight', async () => {
    const { sends, send } = controlledSend();
    const batcher = new ProduceBatcher({ send });
    const done = batcher.produce([record('a'), record('b')]);
    expect(sends.map((s) => s.records.map((r) => r.key))).toEqual([['a', 'b']]);
    sends[0].ack();
    await expect(done).resolves.toBeUndefined();
  });

  it('merges calls made while a send is in flight into the next send, in call order', async () => {
    const { sends, send } = controlledSend();
    const batcher = new ProduceBatcher({ send });
    const settled: string[] = [];
    const first = batcher.produce([record('a')]).then(() => settled.push('a'));
    const second = batcher.produce([record('b1'), record('b2')]).then(() => settled.push('b'));
    const third = batcher.produce([record('c')]).then(() => settled.push('c'));
    expect(sends).toHaveLength(1);
    sends[0].ack();
    await first;
    await settle();
    expect(sends.map((s) => s.records.map((r) => r.key))).toEqual([['a'], ['b1', 'b2', 'c']]);
    // Commit-after-produce: no merged caller resolves before its send is acknowledged.
    expect(settled).toEqual(['a']);
    sends[1].ack();
    await Promise.all([second, third]);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('rejects every caller of a failed send, and goes on with the calls queued after it', async () => {
    const { sends, send } = controlledSend();
    const batcher = new ProduceBatcher({ send });
    const first = batcher.produce([record('a')]);
    const second = batcher.produce([record('b')]);
    const third = batcher.produce([record('c')]);
    sends[0].ack();
    await first;
    await settle();
    const fourth = batcher.produce([record('d')]);
    sends[1].fail(new Error('NOT_ENOUGH_REPLICAS'));
    await expect(second).rejects.toThrow('NOT_ENOUGH_REPLICAS');
    await expect(third).rejects.toThrow('NOT_ENOUGH_REPLICAS');
    await settle();
    expect(sends[2].records.map((r) => r.key)).toEqual(['d']);
    sends[2].ack();
    await expect(fourth).resolves.toBeUndefined();
  });

  it('bounds a merged send by bytes and records, never splitting a call', async () => {
    const { sends, send } = controlledSend();
    const batcher = new ProduceBatcher({ send, maxBatchBytes: 100, maxBatchRecords: 3 });
    const calls = [
      batcher.produce([record('x')]),
      batcher.produce([record('a', 'a'.repeat(60))]),
      batcher.produce([record('b', 'b'.repeat(60))]),
      batcher.produce([record('big', 'z'.repeat(500))]),
      batcher.produce([record('c1'), record('c2')]),
      batcher.produce([record('d1'), record('d2')]),
    ];
    for (let i = 0; i < 6; i++) {
      sends[i]?.ack();
      await settle();
    }
    await Promise.all(calls);
    expect(sends.map((s) => s.records.map((r) => r.key))).toEqual([
      ['x'],
      ['a'],
      ['b'],
      ['big'],
      ['c1', 'c2'],
      ['d1', 'd2'],
    ]);
  });

  it('resolves an empty call without sending', async () => {
    const { sends, send } = controlledSend();
    await new ProduceBatcher({ send }).produce([]);
    expect(sends).toHaveLength(0);
  });
});
