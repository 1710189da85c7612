// Model calls as spans after the OpenTelemetry GenAI semantic conventions
// (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): a CLIENT span
// `{gen_ai.operation.name} {gen_ai.request.model}` per chat or embeddings call, with the request
// parameters, the model that answered and the tokens billed. Prompts and outputs are not recorded
// (they may carry personal data). Without a tracing SDK the spans are the API's no-ops.
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { ModelError } from './model-error';
import type {
  ChatRequest,
  ChatResponse,
  EmbedOptions,
  EmbedResponse,
  ModelProvider,
  ModelTokenCounter,
  ModelUsage,
} from './model-provider';

/** Registry ids of the models a provider uses when a call names none. */
export interface DefaultModels {
  readonly chat: string;
  readonly embeddings: string;
}

/** A ModelProvider whose every call is a GenAI client span around the wrapped provider's call. */
export class TracedModelProvider implements ModelProvider {
  constructor(
    private readonly inner: ModelProvider,
    private readonly defaults: DefaultModels,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  /** Calls the wrapped provider's chat in a `chat <model>` span. */
  chat(request: ChatRequest): Promise<ChatResponse> {
    const model = request.model ?? this.defaults.chat;
    return this.traced(
      'chat',
      model,
      {
        'gen_ai.request.max_tokens': request.maxTokens,
        'gen_ai.request.temperature': request.temperature,
        'gen_ai.request.top_p': request.topP,
        'gen_ai.request.seed': request.seed,
        'gen_ai.request.stop_sequences': request.stop ? [...request.stop] : undefined,
        'gen_ai.output.type': request.responseSchema ? 'json' : 'text',
        'gen_ai.request.tool_count': request.tools?.length,
      },
      async (span) => {
        const response = await this.inner.chat(request);
        span.setAttribute('gen_ai.response.finish_reasons', [response.finishReason]);
        if (response.toolCalls.length > 0) span.setAttribute('llmbus.tool_calls', response.toolCalls.length);
        return { result: response, usage: response.usage };
      },
    );
  }

  /** Calls the wrapped provider's embed in an `embeddings <model>` span. */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<EmbedResponse> {
    const model = options?.model ?? this.defaults.embeddings;
    return this.traced('embeddings', model, { 'llmbus.embeddings.inputs': texts.length }, async (span) => {
      const response = await this.inner.embed(texts, options);
      span.setAttribute('gen_ai.embeddings.dimension.count', response.dimension);
      return { result: response, usage: response.usage };
    });
  }

  tokenCounter(model?: string): Promise<ModelTokenCounter | undefined> {
    return this.inner.tokenCounter?.(model) ?? Promise.resolve(undefined);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async traced<T>(
    operation: 'chat' | 'embeddings',
    model: string,
    attributes: Attributes,
    call: (span: Span) => Promise<{ result: T; usage: ModelUsage }>,
  ): Promise<T> {
    const span = trace.getTracer('llmbus').startSpan(`${operation} ${model}`, {
      kind: SpanKind.CLIENT,
      attributes: defined({
        ...attributes,
        'gen_ai.operation.name': operation,
        'gen_ai.provider.name': this.inner.name,
        // The attribute's name before semantic conventions 1.37, still read by many backends.
        'gen_ai.system': this.inner.name,
        'gen_ai.request.model': model,
      }),
    });
    try {
      const { result, usage } = await call(span);
      recordUsage(span, usage);
      return result;
    } catch (error) {
      if (error instanceof ModelError && error.provider) recordProvider(span, error.provider);
      if (error instanceof ModelError && error.usage) recordUsage(span, error.usage);
      const message = error instanceof Error ? error.message : String(error);
      span.recordException(error instanceof Error ? error : message);
      span.setAttribute('error.type', error instanceof ModelError ? error.code : 'unknown');
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      throw error;
    } finally {
      span.end();
    }
  }
}

// The provider that served the call: behind routing and fallbacks it may not be the wrapped one's name.
function recordProvider(span: Span, provider: string): void {
  span.setAttributes({ 'gen_ai.provider.name': provider, 'gen_ai.system': provider });
}

function recordUsage(span: Span, usage: ModelUsage): void {
  recordProvider(span, usage.provider);
  span.setAttributes({
    'gen_ai.response.model': usage.modelId,
    'gen_ai.usage.input_tokens': usage.promptTokens,
    'gen_ai.usage.output_tokens': usage.completionTokens,
    'llmbus.cost_usd': usage.costUsd,
  });
}

function defined(attributes: Attributes): Attributes {
  return Object.fromEntries(Object.entries(attributes).filter(([, value]) => value !== undefined));
}
