import { EventRejectedError } from '@llmbus/bus';
import type { Passage } from '@llmbus/contracts';
import {
  MemoryResponseCache,
  ModelError,
  ModelRegistryError,
  openAITokenCounter,
  ScriptedModelProvider,
  type ModelEntry,
  type ModelTokenCounter,
  type ScriptedChatReply,
} from '@llmbus/models';
import { createPiiDetector, openVault, PiiProtection } from '@llmbus/pii';
import {
  approximateTokenCounter,
  DEFAULT_WORKFLOWS_DIR,
  PromptRenderer,
  WorkflowRegistry,
} from '@llmbus/workflows';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { GenerationInput, ResponseGeneration } from './response-generation';

const log = pino({ level: 'silent' });
const workflows = WorkflowRegistry.fromDirectory();
const output = {
  category: 'technical',
  priority: 'normal',
  reply: 'Restart the app.',
  citations: [],
  needsHuman: false,
  confidence: 0.7,
};

function passage(id: string, score: number): Passage {
  return {
    id,
    documentId: id,
    collection: 'product-docs',
    title: id,
    sourceUri: `kb://${id}`,
    chunkIndex: 0,
    text: 'x'.repeat(1200),
    score,
  };
}

const source: GenerationInput = {
  requestId: 'r1',
  context: {
    workflow: { id: 'support-ticket', version: 1 },
    requester: { groups: [] },
    modelTier: 'large',
    budget: { maxOutputTokens: 400, maxCostUsd: 0.02 },
  },
  input: { subject: 'App crashes', body: 'It crashes on start.' },
  passages: [passage('p-low', 0.1), passage('p-high', 0.9)],
};

describe('ResponseGeneration', () => {
  it('asks the model the tier maps to, and fits the prompt to that model window', async () => {
    const model = new ScriptedModelProvider().enqueueChat({ json: output });
    const tiers: string[] = [];
    const generation = new ResponseGeneration(
      workflows,
      model,
      (tier) => (tiers.push(tier), { modelId: 'big/model', contextWindow: 1300 }),
      undefined,
      1000,
    );
    const generated = await generation.generate(source, 1, async () => undefined, log);
    expect(tiers).toEqual(['large']);
    expect(model.lastChatRequest).toMatchObject({ model: 'big/model', maxTokens: 400, timeoutMs: 1000 });
    const user = model.lastChatRequest!.messages[1].content;
    expect(user).toContain('id="p-high"');
    expect(user).not.toContain('id="p-low"');
    expect(generated).toMatchObject({
      attempt: 1,
      output,
      passages: source.passages,
      usage: { modelId: 'big/model' },
    });
  });

  describe('with a model whose tokenizer the provider knows', () => {
    const gpt4oMini: ModelEntry = {
      id: 'openai/gpt-4o-mini',
      provider: 'openai',
      model: 'gpt-4o-mini',
      contextWindow: 128_000,
      pricePer1MInputUsd: 0,
      pricePer1MOutputUsd: 0,
      capabilities: ['chat', 'json'],
      tier: 'small',
    };
    const o200k = openAITokenCounter(gpt4oMini)!;
    /** A scripted model that counts tokens as gpt-4o-mini does. */
    class TokenizingModel extends ScriptedModelProvider {
      async tokenCounter(): Promise<ModelTokenCounter> {
        return o200k;
      }
    }
    const promptTokens = (messages: readonly { content: string }[]) =>
      messages.reduce((sum, message) => sum + o200k.count(message.content), 0) + 8;

    it.each([
      ['digits only', '0123456789'.repeat(600)],
      ['Chinese', '我的应用程序在启动时崩溃了，请帮我解决这个问题。'.repeat(100)],
    ])(
      'truncates dense text (%s) that the characters / 4 estimate let overflow the window',
      async (_, body) => {
        const dense = { ...source, input: { subject: 'Crash', body }, passages: [] };
        const workflow = workflows.get('support-ticket', 1);
        const whole = new PromptRenderer().render(workflow, dense.input, [], { contextWindow: 1_000_000 });
        // A window the old estimate says the whole prompt fits in, which the real tokenizer overflows.
        const contextWindow = whole.promptTokens + 400 + 10;
        const limit = contextWindow - 400;
        expect(approximateTokenCounter.count(whole.user)).toBeLessThan(limit);
        expect(promptTokens([{ content: whole.system }, { content: whole.user }])).toBeGreaterThan(limit);

        const model = new TokenizingModel().enqueueChat({ json: output });
        const generation = new ResponseGeneration(
          workflows,
          model,
          () => ({ modelId: 'openai/gpt-4o-mini', contextWindow }),
          undefined,
          1000,
        );
        await generation.generate(dense, 1, async () => undefined, log);
        const sent = model.lastChatRequest!.messages;
        expect(sent[1].content).toContain('[truncated]');
        expect(promptTokens(sent)).toBeLessThanOrEqual(limit);
      },
    );
  });

  it('hands a malformed answer to validation (no output) instead of retrying the same prompt', async () => {
    const model = new ScriptedModelProvider().enqueueChat(
      new ModelError('malformed_output', 'reply is not JSON', { modelId: 'm' }),
    );
    const generation = new ResponseGeneration(
      workflows,
      model,
      () => ({ contextWindow: 4096 }),
      undefined,
      1000,
    );
    const generated = await generation.generate(source, 1, async () => undefined, log);
    expect(generated.output).toBeUndefined();
    expect(generated.text).toMatch(/not valid output: reply is not JSON/);
    expect(generated.usage).toMatchObject({ modelId: 'm', completionTokens: 0 });
    expect(model.chatCalls).toHaveLength(1);
  });

  it('records the usage the provider billed for an answer that could not be parsed', async () => {
    const billed = {
      modelId: 'openai/gpt-4o-mini',
      provider: 'openai',
      promptTokens: 812,
      completionTokens: 97,
      costUsd: 0.00018,
      latencyMs: 640,
    };
    const model = new ScriptedModelProvider().enqueueChat(
      new ModelError('malformed_output', 'reply is not JSON', { modelId: billed.modelId, usage: billed }),
      // An answer the scripted model bills by its own count that does not parse either.
      {
        text: 'I think it is a billing question.',
        usage: { promptTokens: 40, completionTokens: 9, costUsd: 0.001 },
      },
    );
    const generation = new ResponseGeneration(
      workflows,
      model,
      () => ({ contextWindow: 4096 }),
      undefined,
      1000,
    );
    const first = await generation.generate(source, 1, async () => undefined, log);
    expect(first.output).toBeUndefined();
    expect(first.usage).toEqual(billed);
    const second = await generation.generate(source, 2, async () => undefined, log);
    expect(second.output).toBeUndefined();
    expect(second.usage).toMatchObject({ promptTokens: 40, completionTokens: 9, costUsd: 0.001 });
  });

  it("refuses, before calling, a model whose worst-case cost exceeds the workflow's budget", async () => {
    const model = new ScriptedModelProvider().enqueueChat({ json: output });
    // 400 output tokens at $60/M alone is $0.024, over the $0.02 budget.
    const pricey = () => ({
      modelId: 'big/model',
      contextWindow: 4096,
      pricePer1MInputUsd: 10,
      pricePer1MOutputUsd: 60,
    });
    await expect(
      new ResponseGeneration(workflows, model, pricey, undefined, 1000).generate(
        source,
        1,
        async () => undefined,
        log,
      ),
    ).rejects.toEqual(
      expect.objectContaining({
        code: 'budget_exceeded',
        message: expect.stringMatching(/over the workflow's budget of \$0\.02/),
      }),
    );
    expect(model.chatCalls).toHaveLength(0);
    const cheap = () => ({
      modelId: 'small/model',
      contextWindow: 4096,
      pricePer1MInputUsd: 0.15,
      pricePer1MOutputUsd: 0.6,
    });
    await expect(
      new ResponseGeneration(workflows, model, cheap, undefined, 1000).generate(
        source,
        1,
        async () => undefined,
        log,
      ),
    ).resolves.toMatchObject({ output });
  });

  it('rejects as oversize when the prompt cannot fit the window at all', async () => {
    const generation = new ResponseGeneration(
      workflows,
      new ScriptedModelProvider(),
      () => ({ contextWindow: 500 }),
      undefined,
      1000,
    );
    await expect(generation.generate(source, 1, async () => undefined, log)).rejects.toEqual(
      expect.objectContaining({ name: 'EventRejectedError', code: 'oversize' }),
    );
  });

  it('fails a request whose workflow version is not loaded with a terminal unknown_workflow', async () => {
    const generation = new ResponseGeneration(
      workflows,
      new ScriptedModelProvider(),
      () => ({ contextWindow: 4096 }),
      undefined,
      1000,
    );
    const unknown = {
      ...source,
      context: { ...source.context, workflow: { id: 'support-ticket', version: 7 } },
    };
    await expect(generation.generate(unknown, 1, async () => undefined, log)).rejects.toMatchObject({
      code: 'unknown_workflow',
      retryable: false,
    });
  });

  it('fails a request whose provider quota is exhausted as rate_limited, not model_error, without retrying', async () => {
    const quota = new ModelError(
      'rate_limited',
      'the account behind OPENAI_API_KEY has no quota left (429 insufficient_quota); top it up or use another key',
      { retryable: false, status: 429, modelId: 'gpt-4o-mini' },
    );
    const generation = new ResponseGeneration(
      workflows,
      new ScriptedModelProvider().enqueueChat(quota),
      () => ({ contextWindow: 4096 }),
      undefined,
      1000,
    );
    await expect(generation.generate(source, 1, async () => undefined, log)).rejects.toMatchObject({
      code: 'rate_limited',
      retryable: false,
      message: expect.stringContaining('no quota left') as unknown,
    });
  });

  it('heartbeats while waiting on a slow model', async () => {
    jest.useFakeTimers();
    try {
      let answer: (reply: ScriptedChatReply) => void = () => undefined;
      const model = new ScriptedModelProvider().enqueueChat(
        () => new Promise<ScriptedChatReply>((resolve) => (answer = resolve)),
      );
      const heartbeat = jest.fn(async () => undefined);
      const generation = new ResponseGeneration(
        workflows,
        model,
        () => ({ contextWindow: 4096 }),
        undefined,
        60_000,
      );
      const pending = generation.generate(source, 1, heartbeat, log);
      await jest.advanceTimersByTimeAsync(11_000);
      expect(heartbeat).toHaveBeenCalledTimes(2);
      answer({ json: output });
      await pending;
      await jest.advanceTimersByTimeAsync(11_000);
      expect(heartbeat).toHaveBeenCalledTimes(2);
    } finally {
      jest.useRealTimers();
    }
  });

  describe('data minimisation', () => {
    const key = randomBytes(32);
    const pii = new PiiProtection(createPiiDetector(), key);
    const personal: GenerationInput = {
      ...source,
      input: {
        subject: 'Refund for Maria Schneider',
        body: 'Maria Schneider here, card 4111 1111 1111 1111, mail maria.schneider@example.de. Thanks, Maria Schneider',
      },
    };
    const generate = (trustedForPii: boolean, withKey = pii) => {
      const model = new ScriptedModelProvider().enqueueChat({ json: output });
      const generation = new ResponseGeneration(
        workflows,
        model,
        () => ({ modelId: 'm', contextWindow: 4096, trustedForPii }),
        undefined,
        1000,
        withKey,
      );
      return { model, generated: generation.generate(personal, 1, async () => undefined, log) };
    };

    it('masks every entity before a model not trusted with PII, the same value always the same placeholder', async () => {
      const { model, generated } = generate(false);
      const result = await generated;
      const sent = model.lastChatRequest!.messages.map((m) => m.content).join('\n');
      expect(sent).not.toMatch(/Schneider|4111 1111|maria\.schneider@/);
      expect(sent).toContain('Refund for <PERSON_1>');
      expect(sent).toContain('<PERSON_1> here, card <PAYMENT_CARD_1>, mail <EMAIL_1>. Thanks, <PERSON_1>');
      expect(result.renderedPrompt).toBe(JSON.stringify(model.lastChatRequest!.messages));
      expect(openVault(result.piiVault!, key, 'r1').entries()).toEqual([
        ['<PERSON_1>', 'Maria Schneider'],
        ['<PAYMENT_CARD_1>', '4111 1111 1111 1111'],
        ['<EMAIL_1>', 'maria.schneider@example.de'],
      ]);
    });

    it('sends the prompt as rendered to a trusted model, with no mapping', async () => {
      const { model, generated } = generate(true);
      const result = await generated;
      expect(model.lastChatRequest!.messages[1].content).toContain('card 4111 1111 1111 1111');
      expect(result.piiVault).toBeUndefined();
    });

    it('refuses to send a masked prompt whose mapping it cannot seal (no LLMBUS_PII_KEY)', async () => {
      const { model, generated } = generate(false, new PiiProtection(createPiiDetector(), undefined));
      await expect(generated).rejects.toThrow(EventRejectedError);
      await expect(generated).rejects.toThrow(/LLMBUS_PII_KEY is not set/);
      expect(model.chatCalls).toHaveLength(0);
    });
  });
});

describe('ResponseGeneration model routing', () => {
  /** The repository's support-ticket workflow with its `model:` block extended by `extra` YAML lines. */
  function workflowsWith(extra: string): WorkflowRegistry {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-routing-'));
    const yaml = readFileSync(join(DEFAULT_WORKFLOWS_DIR, 'support-ticket.v1.yaml'), 'utf8');
    writeFileSync(
      join(dir, 'support-ticket.v1.yaml'),
      yaml.replace('model:\n  tier: small\n', `model:\n  tier: small\n${extra}`),
    );
    return WorkflowRegistry.fromDirectory(dir);
  }
  const generated = { json: output };

  it('climbs the cascade one tier per attempt and stays on the last', async () => {
    const model = new ScriptedModelProvider().enqueueChat(generated, generated, generated);
    const tiers: string[] = [];
    const generation = new ResponseGeneration(
      workflowsWith('  cascade: [small, large]\n'),
      model,
      (tier) => (tiers.push(tier), { modelId: `${tier}/model`, contextWindow: 8_000 }),
      undefined,
      1000,
    );
    const routedSmall = { ...source, context: { ...source.context, modelTier: 'small' as const } };
    for (const attempt of [1, 2, 3])
      await generation.generate(routedSmall, attempt, async () => undefined, log);
    expect(tiers).toEqual(['small', 'large', 'large']);
    expect(model.chatCalls.map((call) => call.model)).toEqual(['small/model', 'large/model', 'large/model']);
    // A request a match rule routed to large starts there.
    model.enqueueChat(generated);
    await generation.generate(source, 1, async () => undefined, log);
    expect(tiers.at(-1)).toBe('large');
  });

  it('asks for the pinned model and passes the tenant for its rate limits', async () => {
    const model = new ScriptedModelProvider().enqueueChat(generated);
    const selections: unknown[] = [];
    const generation = new ResponseGeneration(
      workflowsWith('  id: vendor/pinned-model\n'),
      model,
      (_tier, selection) => (
        selections.push(selection),
        { modelId: 'vendor/pinned-model', contextWindow: 8_000 }
      ),
      undefined,
      1000,
    );
    await generation.generate({ ...source, tenantId: 'acme' }, 1, async () => undefined, log);
    expect(selections).toEqual([{ pin: 'vendor/pinned-model' }]);
    expect(model.lastChatRequest).toMatchObject({ model: 'vendor/pinned-model', tenant: 'acme' });
  });

  it('fails the request as model_error when the pinned model is not served', async () => {
    const generation = new ResponseGeneration(
      workflowsWith('  id: vendor/pinned-model\n'),
      new ScriptedModelProvider(),
      () => {
        throw new ModelRegistryError(
          'no_matching_model',
          'the workflow pins model vendor/pinned-model, which this process does not serve',
        );
      },
      undefined,
      1000,
    );
    await expect(generation.generate(source, 1, async () => undefined, log)).rejects.toMatchObject({
      code: 'model_error',
      message: expect.stringContaining(
        'support-ticket@1: the workflow pins model vendor/pinned-model',
      ) as unknown,
    });
  });

  it('refuses a workflow that both pins a model and cascades', () => {
    expect(() => workflowsWith('  id: vendor/pinned-model\n  cascade: [small, large]\n')).toThrow(
      'model.cascade: a workflow that pins model.id cannot cascade',
    );
  });
});

describe('ResponseGeneration response cache', () => {
  function cachedWorkflows(): WorkflowRegistry {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-cache-'));
    const yaml = readFileSync(join(DEFAULT_WORKFLOWS_DIR, 'support-ticket.v1.yaml'), 'utf8');
    writeFileSync(
      join(dir, 'support-ticket.v1.yaml'),
      yaml.replace('model:\n  tier: small\n', 'model:\n  tier: small\n  cache:\n    ttlSeconds: 600\n'),
    );
    return WorkflowRegistry.fromDirectory(dir);
  }
  const billed = { json: output, usage: { costUsd: 0.0042, promptTokens: 900, completionTokens: 60 } };

  function setUp() {
    const model = new ScriptedModelProvider();
    const generation = new ResponseGeneration(
      cachedWorkflows(),
      model,
      () => ({ modelId: 'vendor/model', contextWindow: 8_000 }),
      undefined,
      1000,
      undefined,
      new MemoryResponseCache(),
    );
    return { model, generation };
  }

  it("serves a tenant's repeated prompt from the cache and records the cost it saved", async () => {
    const { model, generation } = setUp();
    model.enqueueChat(billed);
    const first = await generation.generate({ ...source, tenantId: 'acme' }, 1, async () => undefined, log);
    const second = await generation.generate(
      { ...source, requestId: 'r2', tenantId: 'acme' },
      1,
      async () => undefined,
      log,
    );
    expect(model.chatCalls).toHaveLength(1);
    expect(first.usage).toMatchObject({ costUsd: 0.0042 });
    expect(first.usage.cached).toBeUndefined();
    expect(second.output).toEqual(first.output);
    expect(second.usage).toMatchObject({ cached: true, costUsd: 0, costSavedUsd: 0.0042, promptTokens: 0 });
  });

  it('never serves one tenant an answer cached for another', async () => {
    const { model, generation } = setUp();
    model.enqueueChat(billed, { ...billed, json: { ...output, reply: 'Globex answer.' } });
    await generation.generate({ ...source, tenantId: 'acme' }, 1, async () => undefined, log);
    const other = await generation.generate({ ...source, tenantId: 'globex' }, 1, async () => undefined, log);
    expect(model.chatCalls).toHaveLength(2);
    expect(other.output).toMatchObject({ reply: 'Globex answer.' });
    expect(other.usage.cached).toBeUndefined();
  });

  it('never serves an asker with fewer groups an answer built on passages withheld from it', async () => {
    const { model, generation } = setUp();
    model.enqueueChat(billed, { ...billed, json: { ...output, reply: 'Answer from public passages.' } });
    const finance = {
      ...source,
      tenantId: 'acme',
      context: { ...source.context, requester: { groups: ['finance'] } },
      passages: [passage('p-restricted', 0.95), passage('p-high', 0.9)],
    };
    await generation.generate(finance, 1, async () => undefined, log);
    // The retriever withholds p-restricted from an asker outside finance: its prompt differs.
    const outsider = {
      ...finance,
      requestId: 'r2',
      context: { ...source.context, requester: { groups: [] } },
      passages: [passage('p-high', 0.9)],
    };
    const answer = await generation.generate(outsider, 1, async () => undefined, log);
    expect(model.chatCalls).toHaveLength(2);
    expect(answer.usage.cached).toBeUndefined();
    expect(answer.output).toMatchObject({ reply: 'Answer from public passages.' });
  });

  it('asks the model again for a regeneration, and without a tenant', async () => {
    const { model, generation } = setUp();
    model.enqueueChat(billed, billed, billed);
    await generation.generate({ ...source, tenantId: 'acme' }, 1, async () => undefined, log);
    await generation.generate({ ...source, tenantId: 'acme' }, 2, async () => undefined, log);
    await generation.generate(source, 1, async () => undefined, log);
    expect(model.chatCalls).toHaveLength(3);
  });
});
