import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ModelsLogger } from '../models-logger';
import {
  EngineFailure,
  type CompletionResult,
  type EmbeddingResult,
  type LocalInferenceEngine,
  type ModelLoadInfo,
} from './local-inference-engine';
import type { CompletionJob, ModelRole, ModelSpec, WorkerRequest, WorkerResponse } from './worker-protocol';

type Final = Exclude<WorkerResponse, { type: 'delta' | 'log' | 'failed' }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Outgoing = DistributiveOmit<WorkerRequest, 'id'>;

interface Pending {
  readonly resolve: (response: Final) => void;
  readonly reject: (error: EngineFailure) => void;
  readonly onDelta?: (text: string) => void;
}

/**
 * Longest the process waits at exit (process.exit with a model call in flight: a second signal, a
 * shutdown past its deadline) for the worker to stop its call and free the models. Tearing the
 * worker down during a native call aborts the whole process (Napi::Error, exit 134) instead of
 * exiting with the code asked for.
 */
const EXIT_WAIT_MS = 10_000;

/** Compiled build: dist/local/llama-worker.mjs. From source (jest, ts tooling): Node strips the .mts types. */
function workerScript(): string {
  const compiled = join(__dirname, 'llama-worker.mjs');
  return existsSync(compiled) ? compiled : join(__dirname, 'llama-worker.mts');
}

/**
 * Runs node-llama-cpp in a worker_thread. The worker is started on first use, kept referenced
 * only while requests are in flight (an idle engine does not keep the process alive), and
 * restarted on the next call if it crashes.
 */
export class LlamaWorkerEngine implements LocalInferenceEngine {
  private worker?: Worker;
  private ready?: Promise<void>;
  private readonly loads = new Map<ModelRole, Promise<ModelLoadInfo>>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set to 1 by the worker once a close has freed the models (read by onExit while it blocks). */
  private closedFlag?: Int32Array;
  private readonly onExit = (): void => this.closeBeforeExit();

  constructor(private readonly options: { readonly maxThreads: number; readonly logger?: ModelsLogger }) {}

  async load(role: ModelRole, spec: ModelSpec): Promise<ModelLoadInfo> {
    const existing = this.loads.get(role);
    if (existing !== undefined) return existing.then((info) => ({ ...info, loadMs: 0 }));
    if (!existsSync(spec.path)) {
      throw new EngineFailure('unavailable', `model file ${spec.path} does not exist`);
    }
    const loading = this.start()
      .then(() => this.call({ type: 'load', role, spec }))
      .then((response) => {
        if (response.type !== 'loaded')
          throw new EngineFailure('unavailable', `unexpected worker reply ${response.type}`);
        return {
          role,
          loadMs: response.loadMs,
          trainContextSize: response.trainContextSize,
          embeddingDimension: response.embeddingDimension,
        };
      });
    this.loads.set(role, loading);
    // A failed load (file missing, worker crash) is retried by the next call.
    loading.catch(() => this.loads.delete(role));
    return loading;
  }

  async complete(
    job: CompletionJob,
    onDelta: (text: string) => void,
    signal: AbortSignal,
  ): Promise<CompletionResult> {
    const response = await this.call({ type: 'complete', ...job }, onDelta, signal);
    if (response.type !== 'completed')
      throw new EngineFailure('unavailable', `unexpected worker reply ${response.type}`);
    return response;
  }

  async embed(texts: readonly string[], signal: AbortSignal): Promise<EmbeddingResult> {
    const response = await this.call({ type: 'embed', texts: [...texts] }, undefined, signal);
    if (response.type !== 'embedded')
      throw new EngineFailure('unavailable', `unexpected worker reply ${response.type}`);
    return response;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    try {
      await this.call({ type: 'close' });
    } catch {
      // The worker is going away either way.
    }
    this.reset(new EngineFailure('unavailable', 'the local model engine was closed'));
    process.removeListener('exit', this.onExit);
    await worker.terminate();
  }

  /**
   * At process exit with work in flight: asks the worker to close (abort, wait, free the models)
   * and blocks until it has, at most EXIT_WAIT_MS, so that the thread is not torn down during a
   * native call. The 'exit' event is the last moment the worker is still running.
   */
  private closeBeforeExit(): void {
    const worker = this.worker;
    const flag = this.closedFlag;
    if (worker === undefined || flag === undefined || this.pending.size === 0) return;
    worker.postMessage({ type: 'close', id: this.nextId++ } satisfies WorkerRequest);
    Atomics.wait(flag, 0, 0, EXIT_WAIT_MS);
  }

  private start(): Promise<void> {
    if (this.ready !== undefined) return this.ready;
    const closedFlag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(workerScript(), { workerData: { closedFlag } });
    worker.unref();
    this.closedFlag = closedFlag;
    process.removeListener('exit', this.onExit);
    process.on('exit', this.onExit);
    worker.on('message', (message: WorkerResponse) => this.receive(message));
    worker.on('error', (error) => this.crash(worker, error.message));
    worker.on('exit', (code) => this.crash(worker, `exited with code ${code}`));
    this.worker = worker;
    this.ready = this.call({ type: 'init', maxThreads: this.options.maxThreads }).then(() => undefined);
    return this.ready;
  }

  private call(request: Outgoing, onDelta?: (text: string) => void, signal?: AbortSignal): Promise<Final> {
    const worker = this.worker;
    if (worker === undefined)
      return Promise.reject(new EngineFailure('unavailable', 'the local model engine is not running'));
    const id = this.nextId++;
    return new Promise<Final>((resolve, reject) => {
      const onAbort = (): void => worker.postMessage({ type: 'abort', id } satisfies WorkerRequest);
      const settle = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        if (this.pending.size === 0) this.worker?.unref();
      };
      this.pending.set(id, {
        onDelta,
        resolve: (response) => {
          settle();
          resolve(response);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      // Keep the process alive while the model works for someone.
      worker.ref();
      worker.postMessage({ ...request, id } as WorkerRequest);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private receive(message: WorkerResponse): void {
    if (message.type === 'log') {
      // llama.cpp warns about harmless model quirks on every load; only its errors deserve a warning.
      // Its own level goes under another name: pino writes `level` itself, and a second `level`
      // key in one JSON line is read differently by each log shipper.
      const details = { component: 'node-llama-cpp', llamaLevel: message.level };
      if (message.level === 'error' || message.level === 'fatal')
        this.options.logger?.warn(details, message.message);
      else this.options.logger?.info(details, message.message);
      return;
    }
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    if (message.type === 'delta') pending.onDelta?.(message.text);
    else if (message.type === 'failed') pending.reject(new EngineFailure(message.code, message.message));
    else pending.resolve(message);
  }

  private crash(worker: Worker, reason: string): void {
    if (this.worker !== worker) return;
    this.reset(new EngineFailure('unavailable', `the local model worker failed (${reason})`));
  }

  private reset(error: EngineFailure): void {
    this.worker = undefined;
    this.ready = undefined;
    this.loads.clear();
    for (const pending of [...this.pending.values()]) pending.reject(error);
    this.pending.clear();
  }
}
