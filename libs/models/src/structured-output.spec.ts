import Ajv from 'ajv';
import { ModelError } from './model-error';
import { fencedJson, parseStructuredOutput } from './structured-output';

const context = { provider: 'scripted', modelId: 'm' };
const schema = {
  type: 'object',
  required: ['category'],
  properties: { category: { type: 'string', enum: ['billing', 'technical'] } },
};

function parse(text: string): unknown {
  return parseStructuredOutput(text, schema, 'triage', context);
}

describe('structured output parsing', () => {
  it('parses an answer wrapped in a ```json fence', () => {
    expect(parse('```json\n{"category": "billing"}\n```')).toEqual({ category: 'billing' });
  });

  it('parses a fenced answer after a line of prose, with an untagged or tilde fence', () => {
    expect(parse('Here is the JSON you asked for:\n\n```\n{"category": "technical"}\n```\n')).toEqual({
      category: 'technical',
    });
    expect(parse('Sure.\n~~~json\n{"category": "billing"}\n~~~')).toEqual({ category: 'billing' });
  });

  it('still validates a fenced answer against the schema', () => {
    expect(() => parse('```json\n{"category": "sales"}\n```')).toThrow('does not match schema "triage"');
  });

  it('refuses an answer with two fenced blocks rather than guessing which one was meant', () => {
    const two = '```json\n{"category": "billing"}\n```\nor\n```json\n{"category": "technical"}\n```';
    expect(fencedJson(two)).toBeUndefined();
    expect(() => parse(two)).toThrow(ModelError);
    expect(() => parse(two)).toThrow('is not valid JSON');
  });

  it('refuses prose with no fence as malformed_output', () => {
    let caught: unknown;
    try {
      parse('The category is billing.');
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'malformed_output' });
  });

  it('compiles a schema once per content, though each request builds a new schema object', () => {
    const compile = jest.spyOn(Ajv.prototype, 'compile');
    try {
      const fresh = () => structuredClone({ ...schema, title: 'compiled-once' });
      for (let i = 0; i < 3; i++) {
        expect(parseStructuredOutput('{"category": "billing"}', fresh(), 'triage', context)).toEqual({
          category: 'billing',
        });
      }
      expect(() => parseStructuredOutput('{"category": "sales"}', fresh(), 'triage', context)).toThrow(
        'does not match schema "triage"',
      );
      expect(compile).toHaveBeenCalledTimes(1);
    } finally {
      compile.mockRestore();
    }
  });
});
