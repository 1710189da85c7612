import { CommitCoalescer, type PartitionOffset } from './commit-coalescer';

/** A commit request the test answers by hand. */
interface SentRequest {
  readonly offsets: readonly PartitionOffset[];
  readonly done: () => void;
  readonly fail: (error: Error) => void;
}

function recordingSend() {
  const sent: SentRequest[] = [];
  const send = (offsets: readonly PartitionOffset[]) =>
    new Promise<void>((resolve, reject) => sent.push({ offsets, done: resolve, fail: reject }));
  return { sent, send };
}

/** Lets pending promise callbacks run. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

function tracked(promise: Promise<void>) {
  const state: { outcome?: 'resolved' | Error } = {};
  promise.then(
    () => (state.outcome = 'resolved'),
    (error: Error) => (state.outcome = error),
  );
  return state;
}

describe('CommitCoalescer', () => {
  it('sends the commits asked for in one turn in one request, the newest offset of each partition', async () => {
    const { sent, send } = recordingSend();
    const commits = new CommitCoalescer(send);
    const asked = [
      tracked(commits.commit('a', 0, '5')),
      tracked(commits.commit('a', 1, '3')),
      tracked(commits.commit('b', 0, '7')),
      tracked(commits.commit('a', 1, '4')),
    ];
    expect(sent).toHaveLength(0);
    await settled();
    expect(sent.map((r) => r.offsets)).toEqual([
      [
        { topic: 'a', partition: 0, offset: '5' },
        { topic: 'a', partition: 1, offset: '4' },
        { topic: 'b', partition: 0, offset: '7' },
      ],
    ]);
    // Not before the request carrying their offsets is answered.
    expect(asked.map((a) => a.outcome)).toEqual([undefined, undefined, undefined, undefined]);
    sent[0].done();
    await settled();
    expect(asked.map((a) => a.outcome)).toEqual(['resolved', 'resolved', 'resolved', 'resolved']);
  });

  it('does not hold a commit back while another request is in flight', async () => {
    const { sent, send } = recordingSend();
    const commits = new CommitCoalescer(send);
    const first = tracked(commits.commit('a', 0, '5'));
    await settled();
    const second = tracked(commits.commit('a', 1, '3'));
    await settled();
    expect(sent.map((r) => r.offsets)).toEqual([
      [{ topic: 'a', partition: 0, offset: '5' }],
      [{ topic: 'a', partition: 1, offset: '3' }],
    ]);
    sent[1].done();
    await settled();
    expect([first.outcome, second.outcome]).toEqual([undefined, 'resolved']);
    sent[0].done();
    await settled();
    expect(first.outcome).toBe('resolved');
  });

  it('commits each partition alone after a merged request failed, so each caller gets its own outcome', async () => {
    const { sent, send } = recordingSend();
    const commits = new CommitCoalescer(send);
    const kept = tracked(commits.commit('a', 1, '3'));
    const lost = tracked(commits.commit('b', 0, '7'));
    await settled();
    sent[0].fail(new Error('NOT_COORDINATOR'));
    await settled();
    expect(sent.slice(1).map((r) => r.offsets)).toEqual([
      [{ topic: 'a', partition: 1, offset: '3' }],
      [{ topic: 'b', partition: 0, offset: '7' }],
    ]);
    sent[1].done();
    sent[2].fail(new Error('the member lost partition b/0'));
    await settled();
    expect(kept.outcome).toBe('resolved');
    expect(lost.outcome).toEqual(new Error('the member lost partition b/0'));
  });

  it('rejects the callers of a lone request that failed, and goes on with later commits', async () => {
    const { sent, send } = recordingSend();
    const commits = new CommitCoalescer(send);
    const failed = tracked(commits.commit('a', 0, '1'));
    await settled();
    sent[0].fail(new Error('REBALANCE_IN_PROGRESS'));
    await settled();
    expect(failed.outcome).toEqual(new Error('REBALANCE_IN_PROGRESS'));
    const later = tracked(commits.commit('a', 0, '1'));
    await settled();
    expect(sent).toHaveLength(2);
    sent[1].done();
    await settled();
    expect(later.outcome).toBe('resolved');
  });

  it('does not commit an older offset again over a later one of the same partition that succeeded', async () => {
    const { sent, send } = recordingSend();
    const commits = new CommitCoalescer(send);
    const older = tracked(commits.commit('a', 0, '10'));
    const other = tracked(commits.commit('a', 1, '5'));
    await settled();
    const newer = tracked(commits.commit('a', 0, '20'));
    await settled();
    expect(sent.map((r) => r.offsets.map((o) => o.offset))).toEqual([['10', '5'], ['20']]);
    // The later request gets through while the merged one, sent on a connection that died, times out.
    sent[1].done();
    sent[0].fail(new Error('Request timed out'));
    await settled();
    await settled();
    // Partition 0 is covered by offset 20: committing 10 again would move the group back by ten messages.
    const resent = sent.slice(2).map((r) => r.offsets);
    expect(resent).toEqual([[{ topic: 'a', partition: 1, offset: '5' }]]);
    expect([older.outcome, newer.outcome]).toEqual(['resolved', 'resolved']);
    sent[2].done();
    await settled();
    expect(other.outcome).toBe('resolved');
  });

  it('waits for a later offset of the partition in flight before committing an older one alone', async () => {
    const { sent, send } = recordingSend();
    const commits = new CommitCoalescer(send);
    const older = tracked(commits.commit('a', 0, '10'));
    tracked(commits.commit('a', 1, '5'));
    await settled();
    const newer = tracked(commits.commit('a', 0, '20'));
    await settled();
    sent[0].fail(new Error('Request timed out'));
    await settled();
    await settled();
    // Sent now, offset 10 could reach the broker after 20 and undo it.
    expect(sent.slice(2).map((r) => r.offsets.map((o) => `${o.partition}:${o.offset}`))).toEqual([['1:5']]);
    sent[1].done();
    await settled();
    await settled();
    expect(sent).toHaveLength(3);
    expect([older.outcome, newer.outcome]).toEqual(['resolved', 'resolved']);
  });

  it('commits an older offset alone when the later request of its partition failed too', async () => {
    const { sent, send } = recordingSend();
    const commits = new CommitCoalescer(send);
    const older = tracked(commits.commit('a', 0, '10'));
    tracked(commits.commit('a', 1, '5'));
    await settled();
    const newer = tracked(commits.commit('a', 0, '20'));
    await settled();
    sent[0].fail(new Error('Request timed out'));
    await settled();
    sent[1].fail(new Error('The coordinator is not available'));
    await settled();
    await settled();
    expect(newer.outcome).toEqual(new Error('The coordinator is not available'));
    const alone = sent.slice(2).find((r) => r.offsets.some((o) => o.partition === 0));
    expect(alone?.offsets).toEqual([{ topic: 'a', partition: 0, offset: '10' }]);
    alone?.done();
    await settled();
    expect(older.outcome).toBe('resolved');
  });

  it('is not covered by a larger offset sent before it (the group position was reset since)', async () => {
    const { sent, send } = recordingSend();
    const commits = new CommitCoalescer(send);
    tracked(commits.commit('a', 0, '50'));
    await settled();
    sent[0].done();
    await settled();
    // Read again from offset 5: the commit of 6 must really go out once its merged request failed.
    const again = tracked(commits.commit('a', 0, '6'));
    tracked(commits.commit('a', 1, '3'));
    await settled();
    sent[1].fail(new Error('Request timed out'));
    await settled();
    await settled();
    const alone = sent.slice(2).find((r) => r.offsets.some((o) => o.partition === 0));
    expect(alone?.offsets).toEqual([{ topic: 'a', partition: 0, offset: '6' }]);
    expect(again.outcome).toBeUndefined();
    alone?.done();
    await settled();
    expect(again.outcome).toBe('resolved');
  });
});
