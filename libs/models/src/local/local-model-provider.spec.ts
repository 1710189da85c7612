import { ModelError } from '../model-error';
import { ModelRegistry } from '../registry/model-registry';
import {
  EngineFailure,
  type CompletionResult,
  type EmbeddingResult,
  type LocalInferenceEngine,
  type ModelLoadInfo,
} from './local-inference-engine';
import { LocalModelProvider, type LocalModelProviderOptions } from './local-model-provider';
import type { CompletionJob, ModelRole } from './worker-protocol';

const registry = ModelRegistry.fromEntries([
  {
    id: 'local/chat',
    provider: 'local',
    model: 'chat.gguf',
    contextWindow: 2048,
    pricePer1MInputUsd: 0,
    pricePer1MOutputUsd: 0,
    capabilities: ['chat', 'json', 'tools'],
    tier: 'small',
  },
  {
    id: 'local/embed',
    provider: 'local',
    model: 'embed.gguf',
    contextWindow: 512,
    pricePer1MInputUsd: 0,
    pricePer1MOutputUsd: 0,
    capabilities: ['embeddings'],
    tier: 'small',
    embeddingDimension: 3,
  },
]);

/** Engine double: answers completions from a queue and records what the provider sent. */
class FakeEngine implements LocalInferenceEngine {
  readonly jobs: CompletionJob[] = [];
  readonly loads: ModelRole[] = [];
  readonly completions: (
    CompletionResult | EngineFailure | ((signal: AbortSignal) => Promise<CompletionResult>)
  )[] = [];
  embedding: EmbeddingResult = { vectors: [Float32Array.from([3, 4, 0])], tokenCounts: [5] };

  async load(role: ModelRole): Promise<ModelLoadInfo> {
    this.loads.push(role);
    return { role, loadMs: 1, trainContextSize: 2048 };
  }

  async complete(
    job: CompletionJob,
    onDelta: (text: string) => void,
    signal: AbortSignal,
  ): Promise<CompletionResult> {
    this.jobs.push(job);
    const next = this.completions.shift();
    if (next === undefined) throw new Error('no scripted completion');
    if (next instanceof EngineFailure) throw next;
    const result = typeof next === 'function' ? await next(signal) : next;
    if (job.stream) onDelta(result.text);
    return result;
  }

  async embed(): Promise<EmbeddingResult> {
    return this.embedding;
  }

  async close(): Promise<void> {}
}

function provider(
  engine: FakeEngine,
  overrides: Partial<LocalModelProviderOptions> = {},
): LocalModelProvider {
  return new LocalModelProvider({
    registry,
    chat: {
      entry: registry.get('local/chat'),
      path: '/models/chat.gguf',
      pathVariable: 'LLMBUS_CHAT_MODEL_PATH',
    },
    embedding: {
      entry: registry.get('local/embed'),
      path: '/models/embed.gguf',
      pathVariable: 'LLMBUS_EMBEDDING_MODEL_PATH',
    },
    threads: 2,
    queueLimit: 4,
    timeoutMs: 5_000,
    engine,
    ...overrides,
  });
}

const done = (text: string, extra: Partial<CompletionResult> = {}): CompletionResult => ({
  text,
  promptTokens: 12,
  completionTokens: 4,
  stop: 'eos',
  ...extra,
});

const ask = { messages: [{ role: 'user' as const, content: 'hello' }] };

describe('LocalModelProvider', () => {
  it('answers with the model text and tokenizer-counted usage at zero cost', async () => {
    const engine = new FakeEngine();
    engine.completions.push(done(' Hi there. '));
    const response = await provider(engine).chat(ask);
    expect(response.text).toBe('Hi there.');
    expect(response.finishReason).toBe('stop');
    expect(response.usage).toMatchObject({
      modelId: 'local/chat',
      provider: 'local',
      promptTokens: 12,
      completionTokens: 4,
      costUsd: 0,
    });
    expect(engine.loads).toEqual(['chat']);
    expect(engine.jobs[0]).toMatchObject({
      maxTokens: 512,
      stream: false,
      prompt: 'User: hello\n\nAssistant:',
    });
  });

  it('streams deltas to onDelta', async () => {
    const engine = new FakeEngine();
    engine.completions.push(done('streamed'));
    const deltas: string[] = [];
    await provider(engine).chat({ ...ask, onDelta: (delta) => deltas.push(delta.text) });
    expect(deltas).toEqual(['streamed']);
  });

  it('parses grammar-constrained JSON and checks it against the schema', async () => {
    const engine = new FakeEngine();
    engine.completions.push(done('{"category":"billing"}'));
    const schema = {
      type: 'object',
      properties: { category: { enum: ['billing', 'bug'] } },
      required: ['category'],
    };
    const response = await provider(engine).chat({ ...ask, responseSchema: { name: 'triage', schema } });
    expect(response.json).toEqual({ category: 'billing' });
    expect(engine.jobs[0].grammarSchema).toEqual({
      type: 'object',
      properties: { category: { enum: ['billing', 'bug'] } },
    });
  });

  it('reports JSON cut off at maxTokens as malformed_output', async () => {
    const engine = new FakeEngine();
    engine.completions.push(done('{"summary":"aaaa', { stop: 'length' }));
    const schema = { type: 'object', properties: { summary: { type: 'string' } } };
    await expect(
      provider(engine).chat({ ...ask, maxTokens: 8, responseSchema: { name: 's', schema } }),
    ).rejects.toMatchObject({
      code: 'malformed_output',
      retryable: true,
    });
  });

  it('turns the tool-choice envelope into a tool call with validated arguments', async () => {
    const engine = new FakeEngine();
    engine.completions.push(done('{"tool":"get_weather","arguments":{"city":"Paris"}}'));
    const tools = [
      {
        name: 'get_weather',
        description: 'weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    ];
    const response = await provider(engine).chat({ ...ask, tools, toolChoice: 'required' });
    expect(response.finishReason).toBe('tool_calls');
    expect(response.toolCalls).toEqual([
      { id: expect.stringMatching(/^call_/), name: 'get_weather', arguments: { city: 'Paris' } },
    ]);
  });

  it('returns the answer branch of the envelope as text when the model does not call a tool', async () => {
    const engine = new FakeEngine();
    engine.completions.push(done('{"answer":"It is sunny."}'));
    const tools = [
      { name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: {} } },
    ];
    const response = await provider(engine).chat({ ...ask, tools });
    expect(response).toMatchObject({ text: 'It is sunny.', toolCalls: [], finishReason: 'stop' });
  });

  it('rejects with retryable rate_limited when the queue is full', async () => {
    const engine = new FakeEngine();
    let release!: () => void;
    engine.completions.push(() => new Promise((resolve) => (release = () => resolve(done('first')))));
    engine.completions.push(done('second'));
    const local = provider(engine, { queueLimit: 1 });
    const first = local.chat(ask);
    const second = local.chat(ask);
    const third = local.chat(ask);
    await expect(third).rejects.toMatchObject({ code: 'rate_limited', retryable: true });
    await expect(third).rejects.toThrow('LLMBUS_LOCAL_QUEUE_LIMIT');
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await expect(first).resolves.toMatchObject({ text: 'first' });
    await expect(second).resolves.toMatchObject({ text: 'second' });
  });

  it('times out with a timeout error naming the setting', async () => {
    const engine = new FakeEngine();
    engine.completions.push(
      (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new EngineFailure('aborted', 'stopped'))),
        ),
    );
    const error = await provider(engine)
      .chat({ ...ask, timeoutMs: 20 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ code: 'timeout', retryable: true });
    expect((error as Error).message).toContain('LLMBUS_LOCAL_TIMEOUT_MS');
  });

  it('rejects a caller abort with aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      provider(new FakeEngine()).chat({ ...ask, signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'aborted' });
  });

  it('says how to get the model when the file is missing', async () => {
    const engine = new FakeEngine();
    engine.completions.push(new EngineFailure('unavailable', 'model file /models/chat.gguf does not exist'));
    const error = await provider(engine)
      .chat(ask)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unavailable', retryable: false });
    expect((error as Error).message).toContain('npm run models:pull');
    expect((error as Error).message).toContain('LLMBUS_CHAT_MODEL_PATH');
  });

  it('passes a prompt that does not fit the context on as bad_request', async () => {
    const engine = new FakeEngine();
    engine.completions.push(new EngineFailure('bad_request', 'the prompt has 5000 tokens'));
    await expect(provider(engine).chat(ask)).rejects.toMatchObject({ code: 'bad_request', retryable: false });
  });

  it('refuses models it does not serve', async () => {
    await expect(provider(new FakeEngine()).chat({ ...ask, model: 'local/embed' })).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(provider(new FakeEngine()).chat({ ...ask, model: 'openai/gpt-x' })).rejects.toThrow(
      'not in the model registry',
    );
  });

  it('returns normalised embeddings with token usage', async () => {
    const response = await provider(new FakeEngine()).embed(['a text']);
    expect(response.vectors).toEqual([[0.6, 0.8, 0]]);
    expect(response.dimension).toBe(3);
    expect(response.usage).toMatchObject({
      modelId: 'local/embed',
      promptTokens: 5,
      completionTokens: 0,
      costUsd: 0,
    });
  });

  it('fails embeddings whose dimension contradicts the registry', async () => {
    const engine = new FakeEngine();
    engine.embedding = { vectors: [Float32Array.from([1, 0])], tokenCounts: [3] };
    await expect(provider(engine).embed(['x'])).rejects.toThrow(
      'produces 2-dimensional vectors but the registry declares 3',
    );
  });
});
