// The local adapter against the real GGUF models pulled by `npm run models:pull` (node-llama-cpp
// in a worker thread, CPU, 2 threads): the shared provider contract plus local-only behaviour.
// Without the models the suite is skipped loudly; with CI or LLMBUS_REQUIRE_MODELS set it fails.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import {
  LocalModelProvider,
  createModelProviders,
  parseModelsConfig,
  type LocalModelProviderOptions,
  type ModelProviders,
} from '@llmbus/models';
import { describeModelProviderContract } from './models-provider-contract';

// Real CPU inference on 2 shared cores: a deadline for hangs, not a speed target (bench:models measures speed).
jest.setTimeout(300_000);

const config = parseModelsConfig(
  process.env.OPENAI_API_KEY ? { ...process.env, LLMBUS_MODEL_PROVIDER: 'local' } : process.env,
);
const chatPath = config.local.chatModelPath ?? join(config.modelsDir, 'gemma-3-270m-q4_k_m.gguf');
const embeddingPath = config.local.embeddingModelPath ?? join(config.modelsDir, 'all-minilm-l6-v2-f32.gguf');
const missing = [chatPath, embeddingPath].filter((path) => !existsSync(path));
const mustRun = Boolean(process.env.CI) || process.env.LLMBUS_REQUIRE_MODELS === '1';

if (missing.length > 0 && !mustRun) {
  console.warn(
    `\n${'!'.repeat(78)}\n  SKIPPING the local model tests: ${missing.join(', ')} not found.\n` +
      `  Run \`npm run models:pull\` (or set LLMBUS_MODELS_DIR / LLMBUS_CHAT_MODEL_PATH / LLMBUS_EMBEDDING_MODEL_PATH).\n${'!'.repeat(78)}\n`,
  );
}
const describeWithModels = missing.length > 0 && !mustRun ? describe.skip : describe;

describeWithModels('local models (node-llama-cpp)', () => {
  let models: ModelProviders;

  beforeAll(async () => {
    if (missing.length > 0)
      throw new Error(`local models missing (${missing.join(', ')}); run npm run models:pull`);
    models = createModelProviders({ ...config, provider: 'local', openai: undefined });
    await (models.chat as LocalModelProvider).warmUp();
  });
  afterAll(() => models?.close());

  describeModelProviderContract('local adapter (Gemma 3 270M + all-MiniLM-L6-v2 GGUF)', () => ({
    provider: models.chat,
    registry: models.registry,
    providerName: 'local',
    chatModelId: models.chatModel.id,
    embeddingModelId: models.embeddingModel.id,
    embeddingDimension: 384,
  }));

  describe('local adapter specifics', () => {
    it('counts prompt tokens with the model tokenizer and costs nothing', async () => {
      const short = await models.chat.chat({ messages: [{ role: 'user', content: 'Hi.' }], maxTokens: 4 });
      const long = await models.chat.chat({
        messages: [{ role: 'user', content: 'Hi. '.repeat(40) }],
        maxTokens: 4,
      });
      expect(long.usage.promptTokens).toBeGreaterThan(short.usage.promptTokens + 30);
      expect(short.usage.completionTokens).toBeLessThanOrEqual(4);
      expect(long.usage.costUsd).toBe(0);
    });

    it('keeps repetitive strings and arrays inside the JSON by capping their length', async () => {
      // Same config as `models`, so this provider shares its worker and loaded model.
      const capped = new LocalModelProvider({
        registry: models.registry,
        chat: { entry: models.chatModel, path: chatPath, pathVariable: 'LLMBUS_CHAT_MODEL_PATH' },
        embedding: {
          entry: models.embeddingModel,
          path: embeddingPath,
          pathVariable: 'LLMBUS_EMBEDDING_MODEL_PATH',
        },
        threads: config.local.threads,
        queueLimit: config.local.queueLimit,
        timeoutMs: config.local.timeoutMs,
        grammarLimits: { maxStringLength: 40, maxArrayItems: 3 },
      });
      try {
        const schema = {
          type: 'object',
          required: ['digits', 'tags'],
          properties: { digits: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
        };
        // Left alone, the base model repeats "0" until it runs out of tokens.
        const response = await capped.chat({
          messages: [
            { role: 'user', content: 'Write the number one million as digits: 1000000000000000000' },
          ],
          responseSchema: { name: 'numbers', schema },
        });
        expect(new Ajv({ strict: false }).validate(schema, response.json)).toBe(true);
        const json = response.json as { digits: string; tags: string[] };
        expect(json.digits.length).toBeLessThanOrEqual(40);
        expect(json.tags.length).toBeLessThanOrEqual(3);
      } finally {
        await capped.close();
      }
    });

    it('rejects a prompt longer than the context window as bad_request', async () => {
      await expect(
        models.chat.chat({
          messages: [{ role: 'user', content: 'lorem ipsum '.repeat(3000) }],
          maxTokens: 8,
        }),
      ).rejects.toMatchObject({ code: 'bad_request', retryable: false });
    });

    it('rejects with retryable rate_limited when its bounded queue is full, and serves the rest', async () => {
      const options: LocalModelProviderOptions = {
        registry: models.registry,
        chat: { entry: models.chatModel, path: chatPath, pathVariable: 'LLMBUS_CHAT_MODEL_PATH' },
        threads: 2,
        queueLimit: 1,
        timeoutMs: 60_000,
      };
      const local = new LocalModelProvider(options);
      try {
        const ask = { messages: [{ role: 'user' as const, content: 'Name a colour.' }], maxTokens: 8 };
        const results = await Promise.allSettled([local.chat(ask), local.chat(ask), local.chat(ask)]);
        expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
        expect((results[2] as PromiseRejectedResult).reason).toMatchObject({
          code: 'rate_limited',
          retryable: true,
        });
      } finally {
        await local.close();
      }
    });

    it('truncates over-long embedding inputs instead of failing', async () => {
      const response = await models.embeddings.embed(['word '.repeat(1000), 'short text']);
      expect(response.vectors).toHaveLength(2);
      expect(response.usage.promptTokens).toBeLessThanOrEqual(512 + 8);
    });
  });
});
