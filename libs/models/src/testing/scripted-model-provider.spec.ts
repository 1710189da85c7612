import { cosineSimilarity } from '../embedding-vectors';
import { ModelError } from '../model-error';
import { ScriptedModelProvider } from './scripted-model-provider';

const ask = { messages: [{ role: 'user' as const, content: 'classify this ticket' }] };

describe('ScriptedModelProvider (test double)', () => {
  it('answers chat calls from the queue in order and records the requests', async () => {
    const model = new ScriptedModelProvider().enqueueChat({ text: 'one' }, { text: 'two' });
    expect((await model.chat(ask)).text).toBe('one');
    expect((await model.chat({ ...ask, temperature: 0 })).text).toBe('two');
    expect(model.chatCalls).toHaveLength(2);
    expect(model.lastChatRequest?.temperature).toBe(0);
    expect(model.pendingChatSteps).toBe(0);
  });

  it('throws a scripted ModelError so retry paths can be tested', async () => {
    const model = new ScriptedModelProvider().enqueueChat(new ModelError('rate_limited', 'slow down'), {
      text: 'ok',
    });
    await expect(model.chat(ask)).rejects.toMatchObject({ code: 'rate_limited', retryable: true });
    expect((await model.chat(ask)).text).toBe('ok');
  });

  it('serialises scripted json and enforces the response schema', async () => {
    const schema = {
      type: 'object',
      properties: { category: { enum: ['billing'] } },
      required: ['category'],
    };
    const model = new ScriptedModelProvider().enqueueChat(
      { json: { category: 'billing' } },
      { json: { category: 'other' } },
    );
    const response = await model.chat({ ...ask, responseSchema: { name: 'triage', schema } });
    expect(response.text).toBe('{"category":"billing"}');
    expect(response.json).toEqual({ category: 'billing' });
    await expect(model.chat({ ...ask, responseSchema: { name: 'triage', schema } })).rejects.toMatchObject({
      code: 'malformed_output',
    });
  });

  it('lets a step compute its reply from the request', async () => {
    const model = new ScriptedModelProvider().enqueueChat((request) => ({
      text: `echo: ${request.messages[0].content}`,
    }));
    expect((await model.chat(ask)).text).toBe('echo: classify this ticket');
  });

  it('returns scripted tool calls only for offered tools', async () => {
    const tools = [
      {
        name: 'search_logs',
        description: 'search',
        parameters: { type: 'object', properties: { q: { type: 'string' } } },
      },
    ];
    const model = new ScriptedModelProvider()
      .enqueueChat({ toolCalls: [{ name: 'search_logs', arguments: { q: 'timeout' } }] })
      .enqueueChat({ toolCalls: [{ name: 'delete_db', arguments: {} }] });
    const response = await model.chat({ ...ask, tools });
    expect(response.finishReason).toBe('tool_calls');
    expect(response.toolCalls[0]).toMatchObject({ name: 'search_logs', arguments: { q: 'timeout' } });
    await expect(model.chat({ ...ask, tools })).rejects.toThrow('was not offered');
  });

  it('returns tool calls as made, unknown tools and invalid arguments included, when validateToolCalls is false', async () => {
    const tools = [
      {
        name: 'search_logs',
        description: 'search',
        parameters: { type: 'object', properties: { q: { type: 'string' } } },
      },
    ];
    const model = new ScriptedModelProvider().enqueueChat({
      toolCalls: [
        { name: 'delete_db', arguments: {} },
        { name: 'search_logs', arguments: { q: 42 } },
      ],
    });
    const response = await model.chat({ ...ask, tools, validateToolCalls: false });
    expect(response.toolCalls.map((c) => [c.name, c.arguments])).toEqual([
      ['delete_db', {}],
      ['search_logs', { q: 42 }],
    ]);
  });

  it('returns a call whose arguments are not JSON with argumentsError when validateToolCalls is false, and fails it otherwise', async () => {
    const tools = [{ name: 'search_logs', description: 'search', parameters: { type: 'object' } }];
    const reply = { toolCalls: [{ name: 'search_logs', arguments: '{"q": "timeout"' }] };
    const model = new ScriptedModelProvider().enqueueChat(reply).enqueueChat(reply);
    const lenient = await model.chat({ ...ask, tools, validateToolCalls: false });
    expect(lenient.toolCalls[0]).toMatchObject({
      name: 'search_logs',
      arguments: {},
      argumentsError: expect.stringContaining('arguments of tool call "search_logs" are not valid JSON'),
    });
    await expect(model.chat({ ...ask, tools })).rejects.toThrow('are not valid JSON');
  });

  it('fails loudly when the script runs out', async () => {
    await expect(new ScriptedModelProvider().chat(ask)).rejects.toThrow(
      'no scripted chat step left for call #1',
    );
  });

  it('embeds deterministically so texts sharing words are closer than unrelated ones', async () => {
    const model = new ScriptedModelProvider({ embeddingDimension: 64 });
    const { vectors, dimension, usage } = await model.embed([
      'reset my account password',
      'how do I reset a password',
      'quarterly revenue grew',
    ]);
    expect(dimension).toBe(64);
    expect(cosineSimilarity(vectors[0], vectors[1])).toBeGreaterThan(
      cosineSimilarity(vectors[0], vectors[2]),
    );
    expect((await model.embed(['reset my account password'])).vectors[0]).toEqual(vectors[0]);
    expect(usage.provider).toBe('scripted');
    expect(model.embedCalls).toHaveLength(2);
  });
});
