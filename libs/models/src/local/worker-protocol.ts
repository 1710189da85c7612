// Messages between LlamaWorkerEngine (main thread) and llama-worker.mts (a worker_thread that owns
// node-llama-cpp). node-llama-cpp is ESM-only and native; keeping it in a worker lets the CommonJS
// build and jest's module system load this lib, and keeps tokenisation off the main event loop.
import type { JsonSchema } from '../model-provider';

export type ModelRole = 'chat' | 'embedding';

export interface ModelSpec {
  readonly path: string;
  /** Tokens allocated for the context (prompt plus completion). */
  readonly contextSize: number;
  readonly threads: number;
}

export interface CompletionJob {
  readonly prompt: string;
  /** node-llama-cpp GBNF JSON schema subset (see grammar-schema.ts); free text when absent. */
  readonly grammarSchema?: JsonSchema;
  readonly maxTokens: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly seed?: number;
  readonly stop: readonly string[];
  readonly stream: boolean;
}

export type WorkerRequest =
  | { readonly type: 'init'; readonly id: number; readonly maxThreads: number }
  | { readonly type: 'load'; readonly id: number; readonly role: ModelRole; readonly spec: ModelSpec }
  | ({ readonly type: 'complete'; readonly id: number } & CompletionJob)
  | { readonly type: 'embed'; readonly id: number; readonly texts: readonly string[] }
  | { readonly type: 'abort'; readonly id: number }
  | { readonly type: 'close'; readonly id: number };

export type CompletionStop = 'eos' | 'stop' | 'length' | 'abort';

export type WorkerFailureCode = 'bad_request' | 'unavailable' | 'aborted';

export type WorkerResponse =
  | { readonly type: 'ready'; readonly id: number }
  | {
      readonly type: 'loaded';
      readonly id: number;
      readonly role: ModelRole;
      readonly loadMs: number;
      readonly trainContextSize: number;
      readonly embeddingDimension?: number;
    }
  | { readonly type: 'delta'; readonly id: number; readonly text: string }
  | {
      readonly type: 'completed';
      readonly id: number;
      readonly text: string;
      readonly promptTokens: number;
      readonly completionTokens: number;
      readonly stop: CompletionStop;
    }
  | {
      readonly type: 'embedded';
      readonly id: number;
      readonly vectors: Float32Array[];
      readonly tokenCounts: number[];
    }
  | {
      readonly type: 'failed';
      readonly id: number;
      readonly code: WorkerFailureCode;
      readonly message: string;
    }
  | { readonly type: 'closed'; readonly id: number }
  | { readonly type: 'log'; readonly level: string; readonly message: string };
