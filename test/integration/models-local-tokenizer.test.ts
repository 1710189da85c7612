// The local model's own tokenizer (its GGUF vocabulary in a worker of its own) budgeting prompts:
// dense text that the characters / 4 estimate let overflow the window is truncated to fit.
// Kept apart from models-local.test.ts: the workflows lib it needs is heavy to load, and the
// generation tests there are timed against a deadline.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createModelProviders, parseModelsConfig, type ModelProviders } from '@llmbus/models';
import { approximateTokenCounter, PromptRenderer, WorkflowRegistry } from '@llmbus/workflows';

jest.setTimeout(60_000);

const config = parseModelsConfig(
  process.env.OPENAI_API_KEY ? { ...process.env, LLMBUS_MODEL_PROVIDER: 'local' } : process.env,
);
const chatPath = config.local.chatModelPath ?? join(config.modelsDir, 'gemma-3-270m-q4_k_m.gguf');
const mustRun = Boolean(process.env.CI) || process.env.LLMBUS_REQUIRE_MODELS === '1';
if (!existsSync(chatPath) && !mustRun)
  console.warn(`SKIPPING the local tokenizer tests: ${chatPath} not found; run npm run models:pull`);
const describeWithModel = !existsSync(chatPath) && !mustRun ? describe.skip : describe;

describeWithModel('local model tokenizer (node-llama-cpp, vocabulary only)', () => {
  let models: ModelProviders;
  beforeAll(() => {
    models = createModelProviders({ ...config, provider: 'local', openai: undefined });
  });
  afterAll(() => models?.close());

  it.each([
    ['digits only', '0123456789'.repeat(1200)],
    ['Chinese', '我的应用程序在启动时崩溃了，请帮我解决这个问题。账单金额不正确。'.repeat(180)],
  ])(
    "truncates dense text (%s) to the window by the GGUF's own tokenizer, where characters / 4 let it overflow",
    async (_, body) => {
      const counter = await models.chat.tokenCounter!();
      expect(counter).toBeDefined();
      const gemma = counter!;
      const workflow = WorkflowRegistry.fromDirectory().get('support-ticket', 1);
      const maxOutput = workflow.model.budget.maxOutputTokens;
      const contextWindow = models.chatModel.contextWindow;
      const limit = contextWindow - maxOutput;
      const input = { subject: 'Crash', body };
      const tokensOf = (rendered: { system: string; user: string }) =>
        gemma.count(rendered.system) + gemma.count(rendered.user) + 8;

      const estimated = new PromptRenderer().render(workflow, input, [], {
        contextWindow,
        tokenCounter: approximateTokenCounter,
      });
      expect(estimated.truncatedField).toBeUndefined();
      expect(tokensOf(estimated)).toBeGreaterThan(limit);

      const counted = new PromptRenderer().render(workflow, input, [], {
        contextWindow,
        tokenCounter: gemma,
      });
      expect(counted.truncatedField).toBe('input.body');
      expect(tokensOf(counted)).toBeLessThanOrEqual(limit);
    },
  );
});
