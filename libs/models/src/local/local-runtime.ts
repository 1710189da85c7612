import { availableParallelism } from 'node:os';
import { ModelError } from '../model-error';
import { BoundedQueue } from './bounded-queue';
import type { LocalInferenceEngine } from './local-inference-engine';
import type { ModelRole } from './worker-protocol';

/** An inference engine plus the queues that serialise work on its contexts. */
export interface LocalRuntime {
  readonly engine: LocalInferenceEngine;
  readonly queues: Readonly<Record<ModelRole, BoundedQueue>>;
}

/**
 * Chat and embeddings get a queue each only when both can run at once without oversubscribing
 * the CPU. Measured on 2 cores with 2 threads per context: an embedding batch next to a running
 * generation took 10.8 s instead of 0.8 s, so oversubscribed roles share one queue.
 */
export function createLocalRuntime(
  engine: LocalInferenceEngine,
  threads: number,
  queueLimit: number,
): LocalRuntime {
  const full = (limit: number) =>
    new ModelError(
      'rate_limited',
      `the local models are busy and ${limit} requests are already waiting; retry later or raise LLMBUS_LOCAL_QUEUE_LIMIT`,
      { provider: 'local' },
    );
  const chat = new BoundedQueue(queueLimit, full);
  const embedding = threads * 2 <= availableParallelism() ? new BoundedQueue(queueLimit, full) : chat;
  return { engine, queues: { chat, embedding } };
}

const shared = new Map<string, { runtime: LocalRuntime; refs: number }>();

/**
 * The process-wide runtime for `key` (model paths and settings), created on first use. Every
 * provider built from the same config shares one worker, one copy of each model and one set of
 * queues, so five stages in one process still run one request at a time per model.
 */
export function acquireLocalRuntime(
  key: string,
  create: () => LocalRuntime,
): { runtime: LocalRuntime; release: () => Promise<void> } {
  let slot = shared.get(key);
  if (slot === undefined) {
    slot = { runtime: create(), refs: 0 };
    shared.set(key, slot);
  }
  slot.refs++;
  const current = slot;
  let released = false;
  return {
    runtime: current.runtime,
    release: async () => {
      if (released) return;
      released = true;
      current.refs--;
      if (current.refs === 0) {
        shared.delete(key);
        await current.runtime.engine.close();
      }
    },
  };
}
