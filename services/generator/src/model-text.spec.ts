import { findUnstorableText } from '@llmbus/contracts';
import { ScriptedModelProvider } from '@llmbus/models';
import { WorkflowRegistry } from '@llmbus/workflows';
import pino from 'pino';
import { GenerationInput, ResponseGeneration } from './response-generation';

// Model output enters the platform in the generator: it must reach the bus storable, or every
// consumer (validator, auditor) would refuse the request's ResponseGenerated.
const log = pino({ level: 'silent' });
const source: GenerationInput = {
  requestId: 'r1',
  context: {
    workflow: { id: 'support-ticket', version: 1 },
    requester: { groups: [] },
    modelTier: 'small',
    budget: { maxOutputTokens: 400, maxCostUsd: 1 },
  },
  input: { subject: 'App crashes', body: 'It crashes on start.' },
  passages: [],
};

describe('ResponseGeneration with model text that cannot be stored', () => {
  const generate = (reply: { json?: unknown; text?: string }) =>
    new ResponseGeneration(
      WorkflowRegistry.fromDirectory(),
      new ScriptedModelProvider().enqueueChat(reply),
      () => ({ contextWindow: 4096 }),
      undefined,
      1000,
    ).generate(source, 1, async () => undefined, log);

  it('replaces U+0000 and lone surrogates in the structured output with U+FFFD', async () => {
    const output = {
      category: 'technical',
      priority: 'normal',
      reply: 'Restart\u0000 the app \uD83D',
      citations: [],
      needsHuman: false,
      confidence: 0.7,
    };
    const generated = await generate({ json: output });
    expect(findUnstorableText(generated)).toEqual([]);
    expect(generated.output).toMatchObject({ reply: 'Restart\uFFFD the app \uFFFD' });
  });

  it('replaces them in a malformed answer quoted for the validator', async () => {
    const generated = await generate({ text: 'raw\u0000text\uDE00' });
    expect(generated.output).toBeUndefined();
    expect(generated.text).toMatch(/raw\uFFFDtext\uFFFD\]$/);
    expect(findUnstorableText(generated)).toEqual([]);
  });
});
