// The OpenAI adapter against an OpenAI-compatible HTTP server started in this test (node:http on
// 127.0.0.1): the shared provider contract, then wire-level behaviour (request mapping, usage,
// retries, errors, timeouts, malformed output).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ModelError,
  ModelRegistry,
  OpenAIModelProvider,
  normalizeVector,
  type ModelEntry,
} from '@llmbus/models';
import { describeModelProviderContract } from './models-provider-contract';

jest.setTimeout(30_000);

type Json = Record<string, unknown>;

interface RecordedRequest {
  readonly path: string;
  readonly body: Json;
  readonly headers: IncomingMessage['headers'];
}

/** What a scripted step does with one request; `undefined` falls through to the fake model. */
type Step = (request: RecordedRequest, res: ServerResponse) => 'handled' | undefined;

const EMBEDDING_DIMENSION = 64;

/** A minimal JSON value valid against the simple schemas used here (first enum value, etc.). */
function sampleFor(schema: Json): unknown {
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if ('const' in schema) return schema.const;
  switch (schema.type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Json>;
      return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, sampleFor(value)]));
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return false;
    default:
      return 'A-1001';
  }
}

function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

function bagOfWords(text: string): number[] {
  const vector = new Array<number>(EMBEDDING_DIMENSION).fill(0);
  for (const word of words(text))
    vector[createHash('sha256').update(word).digest().readUInt32BE(0) % EMBEDDING_DIMENSION] += 1;
  return normalizeVector(vector).map((value) => value * 3); // not normalised on the wire, like some servers
}

/** An OpenAI-compatible server whose default "model" answers deterministically from the request. */
class FakeOpenAIServer {
  readonly requests: RecordedRequest[] = [];
  private readonly steps: Step[] = [];
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next requests are answered by these steps, in order. */
  script(...steps: Step[]): void {
    this.steps.push(...steps);
  }

  reset(): void {
    this.requests.length = 0;
    this.steps.length = 0;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: RecordedRequest = {
        path: req.url ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json,
        headers: req.headers,
      };
      this.requests.push(request);
      const step = this.steps.shift();
      if (step?.(request, res) === 'handled') return;
      if (request.path.endsWith('/embeddings')) this.embeddings(request, res);
      else this.chat(request, res);
    });
  }

  hang(res: ServerResponse): 'handled' {
    this.hanging.add(res);
    return 'handled';
  }

  private embeddings(request: RecordedRequest, res: ServerResponse): void {
    const input = request.body.input as string[];
    json(res, 200, {
      object: 'list',
      model: request.body.model,
      data: input
        .map((text, index) => ({ object: 'embedding', index, embedding: bagOfWords(text) }))
        .reverse(),
      usage: { prompt_tokens: input.reduce((sum, text) => sum + words(text).length, 0), total_tokens: 0 },
    });
  }

  private chat(request: RecordedRequest, res: ServerResponse): void {
    const body = request.body;
    const messages = body.messages as { role: string; content: string | null }[];
    const last = messages[messages.length - 1];
    const tools = (body.tools ?? []) as { function: { name: string; parameters: Json } }[];
    const choice = body.tool_choice;
    const format = body.response_format as { type: string; json_schema?: { schema: Json } } | undefined;
    let content: string | null;
    let toolCalls:
      { id: string; type: 'function'; function: { name: string; arguments: string } }[] | undefined;
    if (tools.length > 0 && (choice === 'required' || typeof choice === 'object')) {
      const tool =
        typeof choice === 'object'
          ? tools.find((t) => t.function.name === (choice as { function: { name: string } }).function.name)!
          : tools[0];
      content = null;
      toolCalls = [
        {
          id: `call_${this.requests.length}`,
          type: 'function',
          function: {
            name: tool.function.name,
            arguments: JSON.stringify(sampleFor(tool.function.parameters)),
          },
        },
      ];
    } else if (format?.type === 'json_schema' && format.json_schema) {
      content = JSON.stringify(sampleFor(format.json_schema.schema));
    } else if (last.role === 'tool') {
      content = `According to the tool, ${last.content ?? ''}`;
    } else {
      content = `You said: ${last.content ?? ''}`;
    }
    const promptTokens = messages.reduce((sum, message) => sum + words(message.content ?? '').length, 0) + 3;
    const completionTokens = words(content ?? JSON.stringify(toolCalls)).length + 1;
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const finish = toolCalls ? 'tool_calls' : 'stop';
    const delayMs = (last.content ?? '').includes('[slow]') ? 500 : 0;
    setTimeout(() => {
      if (res.destroyed) return;
      if (body.stream === true) {
        const pieces = (content ?? '').split(/(?<= )/).filter((piece) => piece !== '');
        const events: Json[] = pieces.map((piece, index) =>
          chunk({ ...(index === 0 ? { role: 'assistant' } : {}), content: piece }, null),
        );
        if (toolCalls) {
          const call = toolCalls[0];
          const half = Math.ceil(call.function.arguments.length / 2);
          events.push(
            chunk(
              {
                role: 'assistant',
                tool_calls: [
                  {
                    index: 0,
                    id: call.id,
                    type: 'function',
                    function: { name: call.function.name, arguments: call.function.arguments.slice(0, half) },
                  },
                ],
              },
              null,
            ),
          );
          events.push(
            chunk(
              { tool_calls: [{ index: 0, function: { arguments: call.function.arguments.slice(half) } }] },
              null,
            ),
          );
        }
        events.push(chunk({}, finish));
        const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
        if (streamOptions?.include_usage)
          events.push({
            id: 'chatcmpl-1',
            object: 'chat.completion.chunk',
            created: 0,
            model: body.model,
            choices: [],
            usage,
          });
        sse(res, events);
        return;
      }
      json(res, 200, {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 0,
        model: body.model,
        choices: [
          {
            index: 0,
            finish_reason: finish,
            message: { role: 'assistant', content, refusal: null, tool_calls: toolCalls },
          },
        ],
        usage,
      });
    }, delayMs);
  }
}

function chunk(delta: Json, finish: string | null): Json {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): 'handled' {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
  return 'handled';
}

function sse(res: ServerResponse, events: Json[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const event of events) res.write(`data: ${JSON.stringify(event)}\n\n`);
  res.end('data: [DONE]\n\n');
}

function completion(content: string | null, extra: Json = {}, finish = 'stop'): Json {
  return {
    id: 'chatcmpl-x',
    object: 'chat.completion',
    created: 0,
    model: 'test-chat',
    choices: [
      { index: 0, finish_reason: finish, message: { role: 'assistant', content, refusal: null, ...extra } },
    ],
    usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
  };
}

/**
 * What OpenAI's strict mode refuses in a response schema, as its 400 "Invalid schema" says: an
 * object property missing from `required`, `additionalProperties` other than false, or a keyword
 * outside the supported subset (a few common ones checked).
 */
function strictModeRefusal(schema: Json, path = 'root'): string | undefined {
  for (const keyword of ['maxLength', 'minLength', 'uniqueItems', 'oneOf'])
    if (keyword in schema) return `In context=(${path}), '${keyword}' is not permitted.`;
  const properties = schema.properties as Record<string, Json> | undefined;
  if (properties !== undefined) {
    const required = (schema.required ?? []) as string[];
    const missing = Object.keys(properties).find((key) => !required.includes(key));
    if (missing !== undefined)
      return `In context=(${path}), 'required' is required to include every key; missing '${missing}'.`;
    if (schema.additionalProperties !== false)
      return `In context=(${path}), 'additionalProperties' must be false.`;
    for (const [key, child] of Object.entries(properties)) {
      const refusal = strictModeRefusal(child, `${path}.${key}`);
      if (refusal !== undefined) return refusal;
    }
  }
  if (typeof schema.items === 'object' && schema.items !== null)
    return strictModeRefusal(schema.items as Json, `${path}.items`);
  return undefined;
}

const entries: ModelEntry[] = [
  {
    id: 'openai/test-chat',
    provider: 'openai',
    model: 'test-chat',
    contextWindow: 16_000,
    pricePer1MInputUsd: 1,
    pricePer1MOutputUsd: 2,
    capabilities: ['chat', 'json', 'tools'],
    tier: 'small',
  },
  {
    id: 'openai/test-embed',
    provider: 'openai',
    model: 'test-embed',
    contextWindow: 8000,
    pricePer1MInputUsd: 0.1,
    pricePer1MOutputUsd: 0,
    capabilities: ['embeddings'],
    tier: 'small',
    embeddingDimension: EMBEDDING_DIMENSION,
  },
];
const registry = ModelRegistry.fromEntries(entries);

const server = new FakeOpenAIServer();
let baseURL: string;

function openai(overrides: { timeoutMs?: number; maxRetries?: number } = {}): OpenAIModelProvider {
  return new OpenAIModelProvider({
    apiKey: 'sk-test',
    baseURL,
    registry,
    defaultChatModel: entries[0],
    defaultEmbeddingModel: entries[1],
    timeoutMs: overrides.timeoutMs ?? 10_000,
    maxRetries: overrides.maxRetries ?? 2,
  });
}

beforeAll(async () => {
  baseURL = await server.start();
});
afterAll(() => server.stop());
beforeEach(() => server.reset());

describeModelProviderContract('openai adapter (in-test OpenAI-compatible server)', () => ({
  provider: openai(),
  registry,
  providerName: 'openai',
  chatModelId: 'openai/test-chat',
  embeddingModelId: 'openai/test-embed',
  embeddingDimension: EMBEDDING_DIMENSION,
}));

describe('openai adapter on the wire', () => {
  const ask = { messages: [{ role: 'user' as const, content: 'hello' }] };

  it('maps sampling parameters, tools, tool choice and the JSON schema into the request', async () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      required: ['a'],
      properties: { a: { type: 'string' } },
    };
    await openai().chat({
      messages: [{ role: 'system', content: 'be brief' }, ...ask.messages],
      temperature: 0.2,
      topP: 0.9,
      stop: ['END'],
      maxTokens: 33,
      seed: 7,
      responseSchema: { name: 'answer', schema },
    });
    expect(server.requests[0].body).toMatchObject({
      model: 'test-chat',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
      max_tokens: 33,
      seed: 7,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
    });
    expect(server.requests[0].headers.authorization).toBe('Bearer sk-test');

    const tool = { name: 'lookup', description: 'find', parameters: { type: 'object', properties: {} } };
    await openai().chat({ ...ask, tools: [tool], toolChoice: { name: 'lookup' } });
    expect(server.requests[1].body).toMatchObject({
      tools: [
        { type: 'function', function: { name: 'lookup', description: 'find', parameters: tool.parameters } },
      ],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
    });
  });

  it('accounts usage and cost from the response, and from the last chunk when streaming', async () => {
    server.script((_, res) => json(res, 200, completion('hi')));
    const plain = await openai().chat(ask);
    expect(plain.usage).toMatchObject({
      promptTokens: 11,
      completionTokens: 7,
      costUsd: (11 * 1 + 7 * 2) / 1e6,
    });

    const streamed = await openai().chat({ ...ask, onDelta: () => undefined });
    expect(server.requests[1].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(streamed.usage.promptTokens).toBe(4);
    expect(streamed.usage.completionTokens).toBe(4);
    expect(streamed.usage.costUsd).toBeCloseTo((4 + 8) / 1e6, 12);
  });

  it('assembles streamed tool-call fragments into one validated call', async () => {
    const tool = {
      name: 'lookup',
      description: 'find',
      parameters: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    };
    const response = await openai().chat({
      ...ask,
      tools: [tool],
      toolChoice: 'required',
      onDelta: () => undefined,
    });
    expect(response.toolCalls).toEqual([{ id: 'call_1', name: 'lookup', arguments: { id: 'A-1001' } }]);
    expect(response.finishReason).toBe('tool_calls');
  });

  it('retries a 429 and succeeds, with the retry counted in latency', async () => {
    server.script((_, res) =>
      json(res, 429, { error: { message: 'slow down', type: 'rate_limit' } }, { 'retry-after-ms': '50' }),
    );
    const response = await openai({ maxRetries: 2 }).chat(ask);
    expect(response.text).toBe('You said: hello');
    expect(server.requests).toHaveLength(2);
    expect(response.usage.latencyMs).toBeGreaterThanOrEqual(50);
  });

  it('gives up on 429 after the configured retries with retryable rate_limited and the server delay', async () => {
    server.script((_, res) => json(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '1' }));
    const error = await openai({ maxRetries: 0 })
      .chat(ask)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'rate_limited', retryable: true, status: 429, retryAfterMs: 1000 });
    expect(server.requests).toHaveLength(1);
  });

  it('maps a persistent 500 to retryable unavailable after retrying', async () => {
    const boom = (_: RecordedRequest, res: ServerResponse) =>
      json(res, 500, { error: { message: 'boom' } }, { 'retry-after-ms': '10' });
    server.script(boom, boom);
    const error = await openai({ maxRetries: 1 })
      .chat(ask)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unavailable', retryable: true, status: 500 });
    expect(server.requests).toHaveLength(2);
  });

  it('does not retry a 400 and maps it to bad_request', async () => {
    server.script((_, res) =>
      json(res, 400, { error: { message: 'Invalid schema for response_format', code: 'invalid_schema' } }),
    );
    const error = await openai()
      .chat(ask)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'bad_request', retryable: false, status: 400 });
    expect((error as Error).message).toContain('Invalid schema for response_format');
    expect(server.requests).toHaveLength(1);
  });

  it('maps a 401 to bad_request that points at OPENAI_API_KEY', async () => {
    server.script((_, res) => json(res, 401, { error: { message: 'Incorrect API key' } }));
    await expect(openai().chat(ask)).rejects.toThrow('check OPENAI_API_KEY');
  });

  it('times out a hanging server per the client timeout and per the request deadline', async () => {
    server.script((_, res) => server.hang(res));
    const clientTimeout = await openai({ timeoutMs: 200, maxRetries: 0 })
      .chat(ask)
      .catch((e: unknown) => e);
    expect(clientTimeout).toMatchObject({ code: 'timeout', retryable: true });

    server.script((_, res) => server.hang(res));
    const started = performance.now();
    const deadline = await openai()
      .chat({ ...ask, timeoutMs: 150 })
      .catch((e: unknown) => e);
    expect(deadline).toMatchObject({ code: 'timeout' });
    expect((deadline as Error).message).toContain('within 150 ms');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('reports malformed JSON, schema-violating JSON and malformed tool arguments as malformed_output', async () => {
    const schema = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } };
    server.script((_, res) => json(res, 200, completion('{"n": 1,')));
    await expect(openai().chat({ ...ask, responseSchema: { name: 's', schema } })).rejects.toMatchObject({
      code: 'malformed_output',
      retryable: true,
    });

    server.script((_, res) => json(res, 200, completion('{"n": "one"}')));
    await expect(openai().chat({ ...ask, responseSchema: { name: 's', schema } })).rejects.toThrow(
      'does not match schema "s"',
    );

    const tool = { name: 'lookup', description: 'find', parameters: { type: 'object', properties: {} } };
    server.script((_, res) =>
      json(
        res,
        200,
        completion(
          null,
          { tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"id":' } }] },
          'tool_calls',
        ),
      ),
    );
    await expect(openai().chat({ ...ask, tools: [tool] })).rejects.toThrow(
      'arguments of tool call "lookup" are not valid JSON',
    );
  });

  it('parses structured output wrapped in a Markdown fence after prose', async () => {
    const schema = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } };
    server.script((_, res) => json(res, 200, completion('Here you go:\n```json\n{"n": 3}\n```')));
    const reply = await openai().chat({ ...ask, responseSchema: { name: 's', schema } });
    expect(reply.json).toEqual({ n: 3 });
  });

  it('carries the billed usage on malformed_output', async () => {
    const schema = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } };
    server.script((_, res) => json(res, 200, completion('the answer is three')));
    const plain = await openai()
      .chat({ ...ask, responseSchema: { name: 's', schema } })
      .catch((e: unknown) => e);
    expect(plain).toMatchObject({
      code: 'malformed_output',
      usage: { modelId: 'openai/test-chat', promptTokens: 11, completionTokens: 7, costUsd: (11 + 14) / 1e6 },
    });
  });

  it('sends a schema with optional properties in a form strict mode accepts, and drops the nulls that come back', async () => {
    const schema = {
      type: 'object',
      required: ['category'],
      properties: {
        category: { type: 'string', enum: ['billing', 'technical'] },
        note: { type: 'string', maxLength: 100 },
        tags: { type: 'array', uniqueItems: true, items: { type: 'string' } },
      },
    };
    server.script((request, res) => {
      const format = request.body.response_format as { json_schema: { schema: Json; strict: boolean } };
      const refusal = format.json_schema.strict ? strictModeRefusal(format.json_schema.schema) : undefined;
      if (refusal !== undefined)
        json(res, 400, { error: { message: `Invalid schema for response_format 's': ${refusal}` } });
      else json(res, 200, completion('{"category": "billing", "note": null, "tags": ["a", "b"]}'));
      return 'handled';
    });
    const reply = await openai().chat({ ...ask, responseSchema: { name: 's', schema } });
    expect(reply.json).toEqual({ category: 'billing', tags: ['a', 'b'] });
    const sent = (server.requests[0].body.response_format as { json_schema: { schema: Json } }).json_schema
      .schema;
    expect(sent.required).toEqual(['category', 'note', 'tags']);
    expect(sent.properties).toMatchObject({ note: { type: ['string', 'null'] } });
  });

  it('refuses, before calling, a strict schema it cannot adapt, naming the field', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { oneOf: [{ type: 'string' }, { type: 'integer' }] } },
    };
    const error = await openai()
      .chat({ ...ask, responseSchema: { name: 's', schema } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'bad_request', retryable: false });
    expect((error as Error).message).toContain('properties.answer.oneOf');
    expect(server.requests).toHaveLength(0);
  });

  it('reports structured output cut off by max tokens as malformed_output that says so', async () => {
    const schema = { type: 'object', properties: { n: { type: 'integer' } } };
    server.script((_, res) => json(res, 200, completion('{"n": 12', {}, 'length')));
    await expect(
      openai().chat({ ...ask, maxTokens: 3, responseSchema: { name: 's', schema } }),
    ).rejects.toThrow('cut off at the token limit');
  });

  it('maps a content-filter finish and a refusal to content_filtered', async () => {
    server.script((_, res) => json(res, 200, completion('', {}, 'content_filter')));
    await expect(openai().chat(ask)).rejects.toMatchObject({ code: 'content_filtered', retryable: false });
    server.script((_, res) => json(res, 200, completion(null, { refusal: 'I cannot help with that.' })));
    await expect(openai().chat(ask)).rejects.toMatchObject({ code: 'content_filtered' });
  });

  it('maps an unreachable endpoint to unavailable naming OPENAI_BASE_URL', async () => {
    const closed = new FakeOpenAIServer();
    const url = await closed.start();
    await closed.stop();
    const provider = new OpenAIModelProvider({
      apiKey: 'k',
      baseURL: url,
      registry,
      defaultChatModel: entries[0],
      timeoutMs: 2_000,
      maxRetries: 0,
    });
    const error = await provider.chat(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ code: 'unavailable', retryable: true });
    expect((error as Error).message).toContain('OPENAI_BASE_URL');
  });

  it('returns embeddings in input order, normalised, with usage and cost', async () => {
    const response = await openai().embed(['alpha beta', 'gamma delta']);
    expect(server.requests[0].body).toMatchObject({
      model: 'test-embed',
      input: ['alpha beta', 'gamma delta'],
      encoding_format: 'float',
    });
    expect(response.vectors[0]).toEqual(normalizeVector(bagOfWords('alpha beta')));
    expect(response.usage).toMatchObject({ modelId: 'openai/test-embed', promptTokens: 4 });
    expect(response.usage.costUsd).toBeCloseTo((4 * 0.1) / 1e6, 12);
  });
});
