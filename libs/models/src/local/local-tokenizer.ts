import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { ModelTokenCounter } from '../model-provider';
import { conservativeTokenCounter } from '../tokens/token-counter';

/** Compiled build: dist/local/tokenizer-worker.mjs. From source (jest, ts tooling): Node strips the .mts types. */
function workerScript(): string {
  const compiled = join(__dirname, 'tokenizer-worker.mjs');
  return existsSync(compiled) ? compiled : join(__dirname, 'tokenizer-worker.mts');
}

/** Longest a single count may block the calling thread before it falls back to the conservative count. */
const COUNT_WAIT_MS = 2000;

/**
 * A GGUF model's own tokenizer, usable synchronously from the main thread (the prompt renderer
 * counts synchronously while it truncates): the vocabulary is loaded, without the weights, in a
 * worker_thread of its own (node-llama-cpp is ESM-only and native), and each count waits on a
 * shared flag (`Atomics.wait`) for that worker's answer, which takes well under a millisecond for
 * a prompt. A count the worker cannot give in time falls back to `conservativeTokenCounter`.
 */
export class LocalTokenizer implements ModelTokenCounter {
  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly signal: Int32Array,
  ) {}

  /** Loads the tokenizer of the GGUF at `modelPath`; rejects with the loader's message when it cannot. */
  static async open(modelPath: string): Promise<LocalTokenizer> {
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(workerScript(), {
      workerData: { modelPath, port: port2, signal },
      transferList: [port2],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (message: { ready?: boolean; error?: string }) =>
          message.ready === true ? resolve() : reject(new Error(message.error ?? 'tokenizer failed to load')),
        );
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`tokenizer worker exited with code ${code}`)));
      });
    } catch (error) {
      port1.close();
      await worker.terminate();
      throw error;
    }
    worker.unref();
    port1.unref();
    return new LocalTokenizer(worker, port1, signal);
  }

  /** Tokens the model's tokenizer makes of `text` (BOS not included). */
  count(text: string): number {
    Atomics.store(this.signal, 0, 0);
    this.port.postMessage(text);
    const waited = Atomics.wait(this.signal, 0, 0, COUNT_WAIT_MS);
    const reply = receiveMessageOnPort(this.port);
    if (
      waited === 'timed-out' ||
      reply === undefined ||
      typeof reply.message !== 'number' ||
      reply.message < 0
    )
      return conservativeTokenCounter.count(text);
    return reply.message;
  }

  /** Stops the worker; counts after this use the conservative fallback. */
  async close(): Promise<void> {
    this.port.close();
    await this.worker.terminate();
  }
}
