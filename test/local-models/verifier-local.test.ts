// The verifier model pass with the local base model (Gemma 3 270M, grammar-constrained): its
// answer must be schema-valid (a verdict and a known passage id per claim), whatever its judgement
// is worth. The judgement of a 270M base model is not measured here. Without the local chat model
// the suite is skipped loudly; with CI or LLMBUS_REQUIRE_MODELS set it fails.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLAIM_VERDICTS } from '@llmbus/contracts';
import { createModelProviders, parseModelsConfig, type ModelProviders } from '@llmbus/models';
import { verifierChat } from '@llmbus/svc-validator';
import { ClaimVerifier, WorkflowRegistry } from '@llmbus/workflows';

jest.setTimeout(900_000);

const modelsConfig = parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' });
const chatPath = modelsConfig.local.chatModelPath ?? join(modelsConfig.modelsDir, 'gemma-3-270m-q4_k_m.gguf');
const mustRun = Boolean(process.env.CI) || process.env.LLMBUS_REQUIRE_MODELS === '1';
const missing = !existsSync(chatPath);
if (missing && !mustRun) {
  console.warn(
    `\n${'!'.repeat(78)}\n  SKIPPING the local verifier test: ${chatPath} not found.\n` +
      `  Run \`npm run models:pull\` (or set LLMBUS_MODELS_DIR).\n${'!'.repeat(78)}\n`,
  );
}
const describeWithModel = missing && !mustRun ? describe.skip : describe;

describeWithModel('verifier model pass with the local chat model', () => {
  let models: ModelProviders;

  beforeAll(() => {
    // A shared 2-core machine can be slow; the deadline is a hang guard.
    models = createModelProviders({
      ...modelsConfig,
      provider: 'local',
      openai: undefined,
      local: { ...modelsConfig.local, timeoutMs: 600_000 },
    });
  });
  afterAll(() => models?.close());

  it('answers a schema-valid verdict with a known passage id for every claim', async () => {
    const base = WorkflowRegistry.fromDirectory().get('support-ticket', 1);
    const workflow = { ...base, verify: { model: { timeoutMs: 600_000 } } };
    const passages = [
      {
        id: 'password-reset#1',
        documentId: 'password-reset',
        collection: 'product-docs',
        title: 'Resetting your password',
        sourceUri: 'samples/documents/product-docs/password-reset.md',
        chunkIndex: 1,
        text: 'Check the spam folder first. If nothing arrives after 15 minutes, request a new link.',
        score: 0.9,
      },
    ];
    const output = {
      category: 'account',
      priority: 'high',
      reply: 'Please check your spam folder first. If nothing arrives after 15 minutes, request a new link.',
      citations: ['password-reset#1'],
      needsHuman: false,
      confidence: 0.8,
    };
    const started = Date.now();
    const result = await new ClaimVerifier(verifierChat(models)).verify(
      workflow,
      output,
      passages,
      output.citations,
    );
    console.log(`local verifier (${Date.now() - started} ms): ${JSON.stringify(result)}`);
    expect(result?.failure).toBeUndefined();
    expect(result?.verdicts).toHaveLength(2);
    for (const verdict of result?.verdicts ?? []) {
      expect(CLAIM_VERDICTS).toContain(verdict.verdict);
      if (verdict.passageId !== undefined) expect(verdict.passageId).toBe('password-reset#1');
    }
  });
});
