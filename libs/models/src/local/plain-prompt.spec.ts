import type { ChatRequest, ToolDefinition } from '../model-provider';
import { DEFAULT_GRAMMAR_LIMITS } from './grammar-schema';
import { TURN_STOP_TRIGGERS, planLocalChat, toolEnvelopeSchema } from './plain-prompt';

const weather: ToolDefinition = {
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('planLocalChat', () => {
  it('renders system text first, then the turns, and ends with the assistant cue', () => {
    const plan = planLocalChat(
      {
        messages: [
          { role: 'system', content: 'You answer helpdesk tickets.' },
          { role: 'user', content: 'Where is my invoice?' },
          { role: 'assistant', content: 'In the billing tab.' },
          { role: 'user', content: 'Thanks. And receipts?' },
        ],
      },
      DEFAULT_GRAMMAR_LIMITS,
    );
    expect(plan.mode).toBe('text');
    expect(plan.prompt).toBe(
      'You answer helpdesk tickets.\n\nUser: Where is my invoice?\n\nAssistant: In the billing tab.\n\nUser: Thanks. And receipts?\n\nAssistant:',
    );
    expect(plan.grammarSchema).toBeUndefined();
  });

  it("stops free text at the next turn and at the caller's stop sequences", () => {
    const plan = planLocalChat(
      { messages: [{ role: 'user', content: 'hi' }], stop: ['END'] },
      DEFAULT_GRAMMAR_LIMITS,
    );
    expect(plan.stop).toEqual(['END', ...TURN_STOP_TRIGGERS]);
  });

  it('shows the reply schema and constrains output with a capped grammar in json mode', () => {
    const plan = planLocalChat(
      {
        messages: [{ role: 'user', content: 'Classify: charged twice' }],
        responseSchema: {
          name: 'triage',
          schema: { type: 'object', properties: { summary: { type: 'string' } } },
        },
      },
      DEFAULT_GRAMMAR_LIMITS,
    );
    expect(plan.mode).toBe('json');
    expect(plan.prompt).toContain(
      'Reply format (JSON Schema): {"type":"object","properties":{"summary":{"type":"string"}}}',
    );
    expect(plan.prompt.endsWith('Assistant (JSON matching the reply format):')).toBe(true);
    expect(plan.grammarSchema).toEqual({
      type: 'object',
      properties: { summary: { type: 'string', maxLength: 200 } },
    });
    expect(plan.stop).toEqual([]);
  });

  it('lists the tools and renders earlier tool calls and results as transcript lines', () => {
    const plan = planLocalChat(
      {
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          {
            role: 'assistant',
            content: '',
            toolCalls: [{ id: 'c1', name: 'get_weather', arguments: { city: 'Paris' } }],
          },
          { role: 'tool', toolCallId: 'c1', name: 'get_weather', content: '{"tempC":21}' },
        ],
        tools: [weather],
        toolChoice: 'required',
      },
      DEFAULT_GRAMMAR_LIMITS,
    );
    expect(plan.mode).toBe('tools');
    expect(plan.prompt).toContain(
      'Tools you can call:\n- get_weather: Current weather for a city\n  arguments: {"type":"object"',
    );
    expect(plan.prompt).toContain('Assistant called get_weather({"city":"Paris"})');
    expect(plan.prompt).toContain('Tool result from get_weather: {"tempC":21}');
    expect(plan.prompt.endsWith('Assistant (tool call as JSON {"tool": name, "arguments": {...}}):')).toBe(
      true,
    );
  });

  it('ignores the tools when toolChoice is none', () => {
    const plan = planLocalChat(
      { messages: [{ role: 'user', content: 'hi' }], tools: [weather], toolChoice: 'none' },
      DEFAULT_GRAMMAR_LIMITS,
    );
    expect(plan.mode).toBe('text');
    expect(plan.prompt).not.toContain('Tools you can call');
  });
});

describe('toolEnvelopeSchema', () => {
  const base: ChatRequest = { messages: [{ role: 'user', content: 'x' }], tools: [weather] };

  it('forces a call of the one offered tool when a tool is required', () => {
    expect(toolEnvelopeSchema({ ...base, toolChoice: 'required' }, DEFAULT_GRAMMAR_LIMITS)).toEqual({
      type: 'object',
      properties: {
        tool: { const: 'get_weather' },
        arguments: { type: 'object', properties: { city: { type: 'string', maxLength: 200 } } },
      },
    });
  });

  it('offers an answer branch besides the calls when toolChoice is auto', () => {
    const schema = toolEnvelopeSchema(base, DEFAULT_GRAMMAR_LIMITS) as {
      oneOf: { properties: Record<string, unknown> }[];
    };
    expect(schema.oneOf).toHaveLength(2);
    expect(schema.oneOf[1].properties).toEqual({ answer: { type: 'string', maxLength: 200 } });
  });

  it('restricts the calls to the named tool', () => {
    const other: ToolDefinition = { ...weather, name: 'search_logs' };
    const schema = toolEnvelopeSchema(
      { ...base, tools: [weather, other], toolChoice: { name: 'search_logs' } },
      DEFAULT_GRAMMAR_LIMITS,
    );
    expect(schema).toMatchObject({ properties: { tool: { const: 'search_logs' } } });
  });
});
