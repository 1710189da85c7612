import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ModelError } from './model-error';
import { ScriptedModelProvider } from './testing/scripted-model-provider';
import { TracedModelProvider } from './traced-model-provider';

describe('TracedModelProvider (GenAI semantic conventions)', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  it('describes a chat call by operation, provider, models, parameters and billed tokens', async () => {
    const scripted = new ScriptedModelProvider({ modelId: 'gemma' }).enqueueChat({
      json: { reply: 'hi' },
      usage: { promptTokens: 42, completionTokens: 7, modelId: 'gemma-fallback', provider: 'openai' },
    });
    const models = new TracedModelProvider(scripted, { chat: 'gemma', embeddings: 'e5' });
    await models.chat({
      messages: [{ role: 'user', content: 'hello' }],
      maxTokens: 64,
      temperature: 0.2,
      responseSchema: { name: 'out', schema: { type: 'object' } },
    });
    const [span] = exporter.getFinishedSpans();
    expect(span.name).toBe('chat gemma');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      // The provider that answered (a fallback), not the wrapped one's name.
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gemma',
      'gen_ai.response.model': 'gemma-fallback',
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.output.type': 'json',
      'gen_ai.usage.input_tokens': 42,
      'gen_ai.usage.output_tokens': 7,
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(JSON.stringify(span.attributes)).not.toContain('hello');
  });

  it('ends a failed call with error.type set to the ModelError code', async () => {
    const scripted = new ScriptedModelProvider().enqueueChat(new ModelError('rate_limited', 'slow down'));
    const models = new TracedModelProvider(scripted, { chat: 'gemma', embeddings: 'e5' });
    await expect(models.chat({ messages: [{ role: 'user', content: 'x' }] })).rejects.toThrow('slow down');
    const [span] = exporter.getFinishedSpans();
    expect(span.status.code).toBe(2);
    expect(span.attributes['error.type']).toBe('rate_limited');
  });

  it('describes an embeddings call', async () => {
    const scripted = new ScriptedModelProvider({ embeddingModelId: 'e5' });
    const models = new TracedModelProvider(scripted, { chat: 'gemma', embeddings: 'e5' });
    await models.embed(['a', 'b']);
    const [span] = exporter.getFinishedSpans();
    expect(span.name).toBe('embeddings e5');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.request.model': 'e5',
    });
  });
});
