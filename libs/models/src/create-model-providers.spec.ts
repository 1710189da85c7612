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

  describe('registry mode (LLMBUS_MODEL_PROVIDER=registry)', () => {
    const gateway = registry.with([
      {
        id: 'groq/llama-3.1-8b',
        provider: 'openai',
        model: 'llama-3.1-8b-instant',
        baseURL: 'http://127.0.0.1:9/v1',
        apiKeyEnv: 'GROQ_API_KEY',
        contextWindow: 8_192,
        pricePer1MInputUsd: 0.05,
        pricePer1MOutputUsd: 0.08,
        capabilities: ['chat', 'json', 'tools'],
        tier: 'small',
        rpm: 30,
      },
      {
        id: 'vllm/qwen-72b',
        provider: 'openai',
        model: 'qwen-72b',
        baseURL: 'http://127.0.0.1:8/v1',
        apiKeyEnv: 'VLLM_API_KEY',
        contextWindow: 32_768,
        pricePer1MInputUsd: 0.9,
        pricePer1MOutputUsd: 0.9,
        capabilities: ['chat', 'json'],
        tier: 'large',
      },
    ]);
    const env = { LLMBUS_MODEL_PROVIDER: 'registry', GROQ_API_KEY: 'gsk-test', VLLM_API_KEY: 'none' };

    it('serves local and every OpenAI-compatible entry whose key variable is set, side by side', async () => {
      const models = createModelProviders(parseModelsConfig(env), {
        registry: gateway,
        localEngine: idleEngine,
        logger,
      });
      expect(models.available.map((e) => e.id).sort()).toEqual([
        'groq/llama-3.1-8b',
        'local/all-minilm-l6-v2',
        'local/gemma-3-270m',
        'vllm/qwen-72b',
      ]);
      expect(models.notLive.get('openai/gpt-4o')).toBe('OPENAI_API_KEY is not set');
      // Cheapest small chat model is the local one; the embedding model too (free).
      expect(models.chatModel.id).toBe('local/gemma-3-270m');
      expect(models.embeddingModel.id).toBe('local/all-minilm-l6-v2');
      expect(models.select('large', ['chat', 'json']).model.id).toBe('vllm/qwen-72b');
      expect(models.select('small', ['chat', 'tools'], { minContextWindow: 6_000 }).model.id).toBe(
        'groq/llama-3.1-8b',
      );
      expect(models.select('small', ['chat'], { pin: 'vllm/qwen-72b' }).model.id).toBe('vllm/qwen-72b');
      await models.close();
    });

    it('says why a pinned model cannot be used', async () => {
      const models = createModelProviders(parseModelsConfig(env), {
        registry: gateway,
        localEngine: idleEngine,
      });
      expect(() => models.select('small', ['chat'], { pin: 'openai/gpt-4o' })).toThrow(
        'the workflow pins model openai/gpt-4o, which this process does not serve (OPENAI_API_KEY is not set)',
      );
      expect(() => models.select('small', ['chat', 'tools'], { pin: 'vllm/qwen-72b' })).toThrow(
        'lacks the capabilities [tools]',
      );
      expect(() => models.select('small', ['chat'], { pin: 'nobody/model' })).toThrow(
        'not in the model registry',
      );
      await models.close();
    });

    it('routes each call to the endpoint serving its model', async () => {
      const models = createModelProviders(parseModelsConfig(env), {
        registry: gateway,
        localEngine: idleEngine,
      });
      // Both endpoints are unreachable ports: the error names the model the call went to.
      await expect(
        models.chat.chat({
          model: 'vllm/qwen-72b',
          messages: [{ role: 'user', content: 'hi' }],
          timeoutMs: 2_000,
        }),
      ).rejects.toMatchObject({ modelId: 'vllm/qwen-72b', provider: 'openai' });
      await models.close();
    });

    it('refuses a registry entry that holds a key instead of naming its variable', () => {
      expect(() =>
        registry.with([{ ...registry.get('openai/gpt-4o'), id: 'x/y', apiKeyEnv: 'sk-live-123' }]),
      ).not.toThrow(); // typed entries are trusted; files are validated:
      expect(() =>
        ModelRegistry.fromConfig({
          models: [{ ...registry.get('openai/gpt-4o'), apiKeyEnv: 'sk-live-123' }],
        }),
      ).toThrow('field "apiKeyEnv" must name an environment variable');
      expect(() =>
        ModelRegistry.fromConfig({
          models: [{ ...registry.get('local/gemma-3-270m'), baseURL: 'http://x/v1' }],
        }),
      ).toThrow('only allowed for provider "openai"');
    });
  });

  it('applies tenant limits to the single endpoint of openai mode', async () => {
    const models = createModelProviders(
      parseModelsConfig({
        OPENAI_API_KEY: 'k',
        OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
        OPENAI_MAX_RETRIES: '0',
        LLMBUS_TENANT_RATE_LIMITS: 'acme=1/',
        LLMBUS_RATE_LIMIT_MAX_WAIT_MS: '0',
      }),
      { registry },
    );
    const call = { messages: [{ role: 'user' as const, content: 'hi' }], tenant: 'acme', timeoutMs: 2_000 };
    // The first call takes the slot (and fails on the closed port); the second waits for none.
    await expect(models.chat.chat(call)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(models.chat.chat(call)).rejects.toMatchObject({
      code: 'rate_limited',
      message: expect.stringContaining('tenant acme requests per minute (1)') as unknown,
    });
    await models.close();
  });

  it('embeds with the chosen OpenAI-compatible embedding model in registry mode when callers name none', async () => {
    const withEmbedder = registry.with([
      {
        id: 'vllm/embed',
        provider: 'openai',
        model: 'bge-small',
        baseURL: 'http://127.0.0.1:9/v1',
        apiKeyEnv: 'VLLM_API_KEY',
        contextWindow: 512,
        pricePer1MInputUsd: 0.01,
        pricePer1MOutputUsd: 0,
        capabilities: ['embeddings'],
        tier: 'small',
        embeddingDimension: 384,
      },
    ]);
    const models = createModelProviders(
      parseModelsConfig({
        LLMBUS_MODEL_PROVIDER: 'registry',
        LLMBUS_EMBEDDING_MODEL: 'vllm/embed',
        VLLM_API_KEY: 'none',
        OPENAI_MAX_RETRIES: '0',
      }),
      { registry: withEmbedder, localEngine: idleEngine },
    );
    expect(models.embeddingModel.id).toBe('vllm/embed');
    // The closed port answers nothing: the call went to the chosen model (not "no default embeddings model").
    await expect(models.embeddings.embed(['hello'], { timeoutMs: 2_000 })).rejects.toMatchObject({
      code: 'unavailable',
      modelId: 'vllm/embed',
    });
    await models.close();
  });

  it('refuses a baseURL that carries credentials or a query string, and a tenant listed twice', () => {
    const gpt4o = registry.get('openai/gpt-4o');
    for (const baseURL of ['https://user:sk-live-1@example.com/v1', 'https://example.com/v1?api-key=abc']) {
      expect(() => ModelRegistry.fromConfig({ models: [{ ...gpt4o, baseURL }] })).toThrow(
        'without credentials or query string',
      );
    }
    expect(() => parseModelsConfig({ LLMBUS_TENANT_RATE_LIMITS: 'demo=60/,demo=1/' })).toThrow(
      'listed twice',
    );
  });
});
