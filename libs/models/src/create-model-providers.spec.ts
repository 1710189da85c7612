import { readFileSync } from 'node:fs';
import { parseModelsConfig } from './config/models-config';
import { createModelProviders } from './create-model-providers';
import { FallbackModelProvider } from './routing/fallback-model-provider';
import type { LocalInferenceEngine } from './local/local-inference-engine';
import { isTrustedForPii, ModelRegistry } from './registry/model-registry';
import { DEFAULT_MODEL_REGISTRY_PATH } from './registry/model-registry-file';

const registry = ModelRegistry.fromConfig(
  JSON.parse(readFileSync(DEFAULT_MODEL_REGISTRY_PATH, 'utf8')) as unknown,
);
const idleEngine: LocalInferenceEngine = {
  load: () => Promise.reject(new Error('not used')),
  complete: () => Promise.reject(new Error('not used')),
  embed: () => Promise.reject(new Error('not used')),
  close: () => Promise.resolve(),
};
const logger = { warn: jest.fn(), info: jest.fn() };

describe('createModelProviders', () => {
  afterEach(() => logger.warn.mockReset());

  it('wires the local models by default', async () => {
    const models = createModelProviders(parseModelsConfig({ LLMBUS_MODELS_DIR: '/cache/models' }), {
      registry,
      localEngine: idleEngine,
    });
    expect(models.chat.name).toBe('local');
    expect(models.embeddings).toBe(models.chat);
    expect(models.chatModel.id).toBe('local/gemma-3-270m');
    expect(models.embeddingModel).toMatchObject({ id: 'local/all-minilm-l6-v2', embeddingDimension: 384 });
    expect(models.available.map((entry) => entry.id)).toEqual([
      'local/gemma-3-270m',
      'local/all-minilm-l6-v2',
    ]);
    await models.close();
  });

  it('falls back to the small local model when a large one is asked for', () => {
    const models = createModelProviders(parseModelsConfig({}), { registry, localEngine: idleEngine });
    expect(models.select('large', ['chat', 'json']).model.id).toBe('local/gemma-3-270m');
    expect(() => models.select('small', ['vision' as never])).toThrow(
      expect.objectContaining({ code: 'no_matching_model' }),
    );
  });

  it('switches to the OpenAI adapter when OPENAI_API_KEY is set, using the registry catalogue', () => {
    const models = createModelProviders(parseModelsConfig({ OPENAI_API_KEY: 'sk-test' }), { registry });
    expect(models.chat.name).toBe('openai');
    expect(models.chatModel.id).toBe('openai/gpt-4o-mini');
    expect(models.embeddingModel.id).toBe('openai/text-embedding-3-small');
    expect(models.select('large', ['chat', 'tools']).model.id).toBe('openai/gpt-4o');
    expect(models.select('small', ['chat']).model.id).toBe('openai/gpt-4o-mini');
  });

  it("routes chat through the registry's fallbacks when an endpoint model lists some", async () => {
    const withFallbacks = registry.with([
      { ...registry.get('openai/gpt-4o'), fallbacks: ['openai/gpt-4o-mini'] },
    ]);
    const models = createModelProviders(parseModelsConfig({ OPENAI_API_KEY: 'sk-test' }), {
      registry: withFallbacks,
    });
    expect(models.chat).toBeInstanceOf(FallbackModelProvider);
    expect(models.chat.name).toBe('openai');
    await models.close();
    const plain = createModelProviders(parseModelsConfig({ OPENAI_API_KEY: 'sk-test' }), { registry });
    expect(plain.chat).not.toBeInstanceOf(FallbackModelProvider);
  });

  it('accepts a registry id or a model name in OPENAI_CHAT_MODEL', () => {
    const byId = createModelProviders(
      parseModelsConfig({ OPENAI_API_KEY: 'k', OPENAI_CHAT_MODEL: 'openai/gpt-4o' }),
      { registry },
    );
    expect(byId.chatModel.id).toBe('openai/gpt-4o');
    const byName = createModelProviders(
      parseModelsConfig({ OPENAI_API_KEY: 'k', OPENAI_CHAT_MODEL: 'gpt-4o' }),
      { registry },
    );
    expect(byName.chatModel.id).toBe('openai/gpt-4o');
  });

  it('serves a model the registry does not know at cost 0, with a warning, and only that model', () => {
    const models = createModelProviders(
      parseModelsConfig({
        OPENAI_API_KEY: 'k',
        OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
        OPENAI_CHAT_MODEL: 'llama3.1:8b',
      }),
      { registry, logger },
    );
    expect(models.chatModel).toMatchObject({
      id: 'openai/llama3.1:8b',
      model: 'llama3.1:8b',
      pricePer1MInputUsd: 0,
    });
    expect(models.registry.find('openai/llama3.1:8b')).toBeDefined();
    expect(models.select('large', ['chat']).model.id).toBe('openai/llama3.1:8b');
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ variable: 'OPENAI_CHAT_MODEL' }),
      expect.stringContaining('add an entry with its prices'),
    );
  });

  it('refuses an OPENAI_CHAT_MODEL that names a non-chat registry entry', () => {
    expect(() =>
      createModelProviders(
        parseModelsConfig({ OPENAI_API_KEY: 'k', OPENAI_CHAT_MODEL: 'openai/text-embedding-3-small' }),
        { registry },
      ),
    ).toThrow('OPENAI_CHAT_MODEL=openai/text-embedding-3-small names registry entry');
  });

  describe('trust for PII', () => {
    it('trusts local models and distrusts OpenAI-compatible endpoints by default', async () => {
      const local = createModelProviders(parseModelsConfig({}), { registry, localEngine: idleEngine });
      expect(isTrustedForPii(local.chatModel)).toBe(true);
      const openai = createModelProviders(parseModelsConfig({ OPENAI_API_KEY: 'k' }), { registry });
      expect(isTrustedForPii(openai.chatModel)).toBe(false);
      // An entry without the flag follows its provider.
      const { trustedForPii: _flag, ...unflagged } = openai.chatModel;
      expect(isTrustedForPii(unflagged)).toBe(false);
      await Promise.all([local.close(), openai.close()]);
    });

    it('trusts every model of the endpoint when OPENAI_TRUSTED_FOR_PII=true (an on-premises server)', async () => {
      const models = createModelProviders(
        parseModelsConfig({
          OPENAI_API_KEY: 'k',
          OPENAI_TRUSTED_FOR_PII: 'true',
          OPENAI_CHAT_MODEL: 'llama-3-70b',
        }),
        { registry, logger },
      );
      expect(models.available.every(isTrustedForPii)).toBe(true);
      expect(() => parseModelsConfig({ OPENAI_TRUSTED_FOR_PII: 'yes' })).toThrow(/OPENAI_TRUSTED_FOR_PII/);
      await models.close();
    });
  });
});
