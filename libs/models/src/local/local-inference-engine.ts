import type {
  CompletionJob,
  CompletionStop,
  ModelRole,
  ModelSpec,
  WorkerFailureCode,
} from './worker-protocol';

export interface ModelLoadInfo {
  readonly role: ModelRole;
  /** 0 when the model was already loaded. */
  readonly loadMs: number;
  readonly trainContextSize: number;
  readonly embeddingDimension?: number;
}

export interface CompletionResult {
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly stop: CompletionStop;
}

export interface EmbeddingResult {
  readonly vectors: Float32Array[];
  /** Tokens each input used (after truncation), special tokens included. */
  readonly tokenCounts: number[];
}

/** A failure inside the engine; the provider turns it into a ModelError. */
export class EngineFailure extends Error {
  override readonly name = 'EngineFailure';
  constructor(
    readonly code: WorkerFailureCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What LocalModelProvider needs from an in-process inference runtime. Calls for one role must not
 * overlap (the provider's queues guarantee it); `load` is idempotent.
 */
export interface LocalInferenceEngine {
  load(role: ModelRole, spec: ModelSpec): Promise<ModelLoadInfo>;
  complete(
    job: CompletionJob,
    onDelta: (text: string) => void,
    signal: AbortSignal,
  ): Promise<CompletionResult>;
  embed(texts: readonly string[], signal: AbortSignal): Promise<EmbeddingResult>;
  close(): Promise<void>;
}
