// The behaviour every ModelProvider adapter must show, run against each adapter with a real
// backend: the OpenAI adapter against an OpenAI-compatible HTTP server (models-openai.test.ts)
// and the local adapter against the pulled GGUF models (models-local.test.ts).
import Ajv from 'ajv';
import {
  ModelError,
  cosineSimilarity,
  streamChat,
  type ChatMessage,
  type JsonSchema,
  type ModelProvider,
  type ModelRegistry,
  type ToolDefinition,
} from '@llmbus/models';

export interface ContractSubject {
  readonly provider: ModelProvider;
  readonly registry: ModelRegistry;
  readonly providerName: string;
  readonly chatModelId: string;
  readonly embeddingModelId: string;
  readonly embeddingDimension: number;
}

const ajv = new Ajv({ strict: false });

const triageSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['category', 'priority', 'summary', 'needsHuman'],
  properties: {
    category: { type: 'string', enum: ['billing', 'bug', 'account', 'other'] },
    priority: { type: 'integer' },
    summary: { type: 'string', maxLength: 120 },
    needsHuman: { type: 'boolean' },
  },
};

const lookupOrder: ToolDefinition = {
  name: 'lookup_order',
  description: 'Look up an order by its id and return its status',
  parameters: {
    type: 'object',
    additionalProperties: false,
    required: ['orderId'],
    properties: { orderId: { type: 'string', maxLength: 20, description: 'Order id such as A-1001' } },
  },
};

const ticket: ChatMessage[] = [
  { role: 'system', content: 'You triage customer support tickets.' },
  {
    role: 'user',
    content: 'I was charged twice for my subscription this month. Please refund one of the charges.',
  },
];

/** Registers the shared adapter contract; `subject` is resolved in beforeAll. */
export function describeModelProviderContract(name: string, subject: () => ContractSubject): void {
  describe(`${name}: ModelProvider contract`, () => {
    it('answers a plain chat with text, a finish reason and complete usage', async () => {
      const { provider, registry, chatModelId, providerName } = subject();
      const response = await provider.chat({
        messages: [{ role: 'user', content: 'Say hello to the support team.' }],
        maxTokens: 24,
      });
      expect(response.text.length).toBeGreaterThan(0);
      expect(['stop', 'length']).toContain(response.finishReason);
      expect(response.toolCalls).toEqual([]);
      const { usage } = response;
      expect(usage).toMatchObject({ modelId: chatModelId, provider: providerName });
      expect(usage.promptTokens).toBeGreaterThan(0);
      expect(usage.completionTokens).toBeGreaterThan(0);
      expect(usage.latencyMs).toBeGreaterThanOrEqual(0);
      expect(usage.costUsd).toBeCloseTo(
        registry.costUsd(chatModelId, usage.promptTokens, usage.completionTokens),
        12,
      );
    });

    it('streams deltas that add up to the final text, through onDelta and streamChat', async () => {
      const { provider } = subject();
      const request = {
        messages: [{ role: 'user' as const, content: 'Write one sentence about invoices.' }],
        maxTokens: 24,
      };
      const deltas: string[] = [];
      const response = await provider.chat({ ...request, onDelta: (delta) => deltas.push(delta.text) });
      expect(deltas.length).toBeGreaterThan(1);
      expect(deltas.join('').trim()).toBe(response.text.trim());

      const stream = streamChat(provider, request);
      let streamed = '';
      for await (const delta of stream) streamed += delta.text;
      expect(streamed.trim()).toBe((await stream.response).text.trim());
    });

    it('returns structured output that parses and validates against the responseSchema', async () => {
      const { provider } = subject();
      const response = await provider.chat({
        messages: ticket,
        responseSchema: { name: 'ticket_triage', schema: triageSchema },
        maxTokens: 160,
      });
      const validate = ajv.compile(triageSchema);
      expect(validate(response.json)).toBe(true);
      expect(JSON.parse(response.text)).toEqual(response.json);
      expect(response.usage.completionTokens).toBeGreaterThan(0);
    });

    it('round-trips a tool call: the call, the tool result, then a final answer', async () => {
      const { provider } = subject();
      const messages: ChatMessage[] = [
        { role: 'system', content: 'You answer questions about orders. Use lookup_order to find an order.' },
        { role: 'user', content: 'Where is my order A-1001?' },
      ];
      const first = await provider.chat({
        messages,
        tools: [lookupOrder],
        toolChoice: 'required',
        maxTokens: 64,
      });
      expect(first.finishReason).toBe('tool_calls');
      expect(first.toolCalls).toHaveLength(1);
      const [call] = first.toolCalls;
      expect(call.name).toBe('lookup_order');
      expect(call.id).not.toBe('');
      expect(ajv.validate(lookupOrder.parameters, call.arguments)).toBe(true);

      const second = await provider.chat({
        messages: [
          ...messages,
          { role: 'assistant', content: first.text, toolCalls: first.toolCalls },
          {
            role: 'tool',
            toolCallId: call.id,
            name: call.name,
            content: '{"status":"shipped","eta":"tomorrow"}',
          },
        ],
        tools: [lookupOrder],
        toolChoice: 'none',
        maxTokens: 48,
      });
      expect(second.toolCalls).toEqual([]);
      expect(second.text.length).toBeGreaterThan(0);
    });

    it('embeds a batch: one normalised vector per text, the declared dimension, paraphrases closest', async () => {
      const { provider, embeddingModelId, embeddingDimension, providerName } = subject();
      const texts = [
        'How do I reset my account password?',
        'I forgot my password and need to reset it for my account.',
        'Quarterly revenue grew by ten percent in Europe.',
      ];
      const response = await provider.embed(texts);
      expect(response.dimension).toBe(embeddingDimension);
      expect(response.vectors).toHaveLength(texts.length);
      for (const vector of response.vectors) {
        expect(vector).toHaveLength(embeddingDimension);
        expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
      }
      const [question, paraphrase, unrelated] = response.vectors;
      expect(cosineSimilarity(question, paraphrase)).toBeGreaterThan(
        cosineSimilarity(question, unrelated) + 0.2,
      );
      expect(response.usage).toMatchObject({
        modelId: embeddingModelId,
        provider: providerName,
        completionTokens: 0,
      });
      expect(response.usage.promptTokens).toBeGreaterThan(0);
    });

    it('rejects an already-aborted call with aborted and a call past its deadline with timeout', async () => {
      const { provider } = subject();
      const controller = new AbortController();
      controller.abort();
      await expect(provider.chat({ messages: ticket, signal: controller.signal })).rejects.toMatchObject({
        code: 'aborted',
        retryable: false,
      });
      const late = await provider
        .chat({
          messages: [{ role: 'user', content: '[slow] Write a long story about refunds.' }],
          maxTokens: 200,
          timeoutMs: 5,
        })
        .catch((error: unknown) => error);
      expect(late).toBeInstanceOf(ModelError);
      expect(late).toMatchObject({ code: 'timeout', retryable: true });
    });

    it('rejects a schema it cannot honour as bad_request before generating', async () => {
      const { provider } = subject();
      await expect(
        provider.chat({ messages: ticket, responseSchema: { name: 'bad name!', schema: triageSchema } }),
      ).rejects.toMatchObject({ code: 'bad_request', retryable: false });
    });
  });
}
