// Runs inside a worker_thread started by LlamaWorkerEngine; owns node-llama-cpp (ESM-only, native).
// Node runs this file directly from src (type stripping: erasable TypeScript only, no enums or
// parameter properties) and as compiled llama-worker.mjs from dist.
// One request per role at a time: the engine's queues guarantee it, so no locking here.
// Closing waits for every job in progress (aborted first) before disposing anything, and the
// worker is never terminated while the addon works: a worker_thread torn down while a native
// call of node-llama-cpp is running (a context disposed under a generation rejects an internal
// promise with "Object is disposed", an uncaught error that ends the thread) makes the addon
// throw Napi::Error with no JavaScript left to catch it, and the whole process aborts (exit 134).
import { parentPort, workerData } from 'node:worker_threads';
import { LRUCache } from 'lru-cache';
import {
  getLlama,
  LlamaCompletion,
  LlamaLogLevel,
  type GbnfJsonSchema,
  type Llama,
  type LlamaContext,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import type {
  CompletionStop,
  ModelSpec,
  WorkerFailureCode,
  WorkerRequest,
  WorkerResponse,
} from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('llama-worker.mts must run inside a worker_thread');
// Set to 1 once a close has freed everything: the engine blocks on it at process exit.
const closedFlag = (workerData as { closedFlag?: Int32Array } | undefined)?.closedFlag;

interface ChatModel {
  readonly spec: ModelSpec;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  readonly completion: LlamaCompletion;
}

interface EmbeddingModel {
  readonly spec: ModelSpec;
  readonly model: LlamaModel;
  readonly context: LlamaEmbeddingContext;
  readonly dimension: number;
}

class JobFailure extends Error {
  readonly code: WorkerFailureCode;
  constructor(code: WorkerFailureCode, message: string) {
    super(message);
    this.code = code;
  }
}

let llama: Llama | undefined;
let chat: ChatModel | undefined;
let embedding: EmbeddingModel | undefined;
const aborts = new Map<number, AbortController>();
// Every request being handled (loads and jobs): closing waits for all of them to settle.
const inProgress = new Set<Promise<void>>();
let closing = false;
// Compiling a grammar costs milliseconds; the same few schemas come back on every request.
const grammars = new LRUCache<string, LlamaGrammar>({ max: 64 });

function send(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function requireLlama(): Llama {
  if (llama === undefined) throw new JobFailure('unavailable', 'llama runtime not initialised');
  return llama;
}

async function init(maxThreads: number): Promise<void> {
  llama ??= await getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    maxThreads,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => send({ type: 'log', level: String(level), message: message.trim() }),
  });
}

async function loadModel(spec: ModelSpec): Promise<LlamaModel> {
  try {
    return await requireLlama().loadModel({ modelPath: spec.path });
  } catch (error) {
    throw new JobFailure('unavailable', `cannot load ${spec.path}: ${(error as Error).message}`);
  }
}

async function loadChat(spec: ModelSpec): Promise<ChatModel> {
  if (chat !== undefined) return chat;
  const model = await loadModel(spec);
  const context = await model.createContext({
    contextSize: spec.contextSize,
    threads: spec.threads,
    sequences: 1,
  });
  chat = {
    spec,
    model,
    context,
    completion: new LlamaCompletion({ contextSequence: context.getSequence() }),
  };
  return chat;
}

async function loadEmbedding(spec: ModelSpec): Promise<EmbeddingModel> {
  if (embedding !== undefined) return embedding;
  const model = await loadModel(spec);
  const context = await model.createEmbeddingContext({
    contextSize: spec.contextSize,
    threads: spec.threads,
  });
  embedding = { spec, model, context, dimension: model.embeddingVectorSize };
  return embedding;
}

async function grammarFor(schema: object): Promise<LlamaGrammar> {
  const key = JSON.stringify(schema);
  let grammar = grammars.get(key);
  if (grammar === undefined) {
    try {
      grammar = await requireLlama().createGrammarForJsonSchema<GbnfJsonSchema>(schema as GbnfJsonSchema);
    } catch (error) {
      throw new JobFailure(
        'bad_request',
        `the grammar for this JSON schema could not be built: ${(error as Error).message}`,
      );
    }
    grammars.set(key, grammar);
  }
  return grammar;
}

function stopOf(reason: string): CompletionStop {
  if (reason === 'maxTokens') return 'length';
  if (reason === 'eogToken') return 'eos';
  if (reason === 'abort') return 'abort';
  return 'stop';
}

async function complete(
  request: Extract<WorkerRequest, { type: 'complete' }>,
  signal: AbortSignal,
): Promise<void> {
  if (chat === undefined) throw new JobFailure('unavailable', 'chat model not loaded');
  const { model, completion, spec } = chat;
  const promptTokens = model.tokenize(request.prompt).length + (model.tokens.shouldPrependBosToken ? 1 : 0);
  if (promptTokens + request.maxTokens > spec.contextSize) {
    throw new JobFailure(
      'bad_request',
      `the prompt has ${promptTokens} tokens; with maxTokens ${request.maxTokens} it exceeds the ${spec.contextSize}-token context ` +
        'of the local chat model; truncate the context or lower maxTokens',
    );
  }
  const grammar = request.grammarSchema === undefined ? undefined : await grammarFor(request.grammarSchema);
  let completionTokens = 0;
  const result = await completion.generateCompletionWithMeta(request.prompt, {
    grammar,
    maxTokens: request.maxTokens,
    temperature: request.temperature ?? 0,
    topP: request.topP,
    seed: request.seed,
    customStopTriggers: request.stop.length > 0 ? [...request.stop] : undefined,
    signal,
    // Context shift would silently drop the start of the prompt; the length check above fails instead.
    disableContextShift: true,
    onToken: (tokens: Token[]) => {
      completionTokens += tokens.length;
    },
    onTextChunk: request.stream ? (text: string) => send({ type: 'delta', id: request.id, text }) : undefined,
  });
  send({
    type: 'completed',
    id: request.id,
    text: result.response,
    promptTokens,
    completionTokens,
    stop: stopOf(result.metadata.stopReason),
  });
}

async function embed(request: Extract<WorkerRequest, { type: 'embed' }>, signal: AbortSignal): Promise<void> {
  if (embedding === undefined) throw new JobFailure('unavailable', 'embedding model not loaded');
  const { model, context, dimension, spec } = embedding;
  // The context adds [CLS] and [SEP] and needs one spare slot; longer inputs are truncated, as
  // sentence-transformers does at the model's max sequence length.
  const maxInputTokens = spec.contextSize - 3;
  const vectors: Float32Array[] = [];
  const tokenCounts: number[] = [];
  for (const text of request.texts) {
    if (signal.aborted) throw new JobFailure('aborted', 'embedding aborted');
    const tokens = model.tokenize(text).slice(0, maxInputTokens);
    tokenCounts.push(tokens.length + 2);
    if (tokens.length === 0) {
      vectors.push(new Float32Array(dimension));
      continue;
    }
    const result = await context.getEmbeddingFor(tokens);
    vectors.push(Float32Array.from(result.vector));
  }
  send(
    { type: 'embedded', id: request.id, vectors, tokenCounts },
    vectors.map((vector) => vector.buffer as ArrayBuffer),
  );
}

/**
 * Aborts the jobs in progress, waits until each has settled (node-llama-cpp checks the signal
 * between tokens and between prompt batches, so the native call in progress ends first), then
 * disposes contexts before their models and the models before the runtime.
 */
async function close(): Promise<void> {
  closing = true;
  for (const controller of aborts.values())
    controller.abort(new JobFailure('aborted', 'the local model engine is closing'));
  await Promise.allSettled([...inProgress]);
  await chat?.context.dispose();
  await chat?.model.dispose();
  await embedding?.context.dispose();
  await embedding?.model.dispose();
  grammars.clear();
  await llama?.dispose();
  chat = undefined;
  embedding = undefined;
  llama = undefined;
}

async function handle(request: WorkerRequest): Promise<void> {
  if (closing && request.type !== 'close' && request.type !== 'abort')
    throw new JobFailure('unavailable', 'the local model engine is closing');
  switch (request.type) {
    case 'init':
      await init(request.maxThreads);
      send({ type: 'ready', id: request.id });
      return;
    case 'load': {
      const started = performance.now();
      const loaded =
        request.role === 'chat' ? await loadChat(request.spec) : await loadEmbedding(request.spec);
      send({
        type: 'loaded',
        id: request.id,
        role: request.role,
        loadMs: Math.round(performance.now() - started),
        trainContextSize: loaded.model.trainContextSize,
        embeddingDimension: request.role === 'embedding' ? loaded.model.embeddingVectorSize : undefined,
      });
      return;
    }
    case 'complete':
    case 'embed': {
      const controller = new AbortController();
      aborts.set(request.id, controller);
      try {
        if (request.type === 'complete') await complete(request, controller.signal);
        else await embed(request, controller.signal);
      } finally {
        aborts.delete(request.id);
      }
      return;
    }
    case 'abort':
      aborts.get(request.id)?.abort(new JobFailure('aborted', 'aborted by the caller'));
      return;
    case 'close':
      await close();
      if (closedFlag !== undefined) {
        Atomics.store(closedFlag, 0, 1);
        Atomics.notify(closedFlag, 0);
      }
      send({ type: 'closed', id: request.id });
      return;
  }
}

// An error nobody awaits inside node-llama-cpp must not end the thread (see the top of this file):
// it is reported as an error log line instead.
process.on('unhandledRejection', (reason: unknown) => {
  send({
    type: 'log',
    level: 'error',
    message: `unhandled rejection in the local model worker: ${reason instanceof Error ? reason.message : String(reason)}`,
  });
});

port.on('message', (request: WorkerRequest) => {
  const handled = handle(request);
  if (request.type !== 'close' && request.type !== 'abort') {
    inProgress.add(handled);
    void handled.catch(() => undefined).finally(() => inProgress.delete(handled));
  }
  handled.catch((error: unknown) => {
    // An aborted generation rejects with the signal's reason, which is already a JobFailure.
    const failure =
      error instanceof JobFailure
        ? error
        : new JobFailure('unavailable', error instanceof Error ? error.message : String(error));
    send({ type: 'failed', id: request.id, code: failure.code, message: failure.message });
  });
});
