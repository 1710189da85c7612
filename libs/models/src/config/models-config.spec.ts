import { ModelsConfigError, parseModelsConfig } from './models-config';

function configError(env: Record<string, string>): ModelsConfigError {
  try {
    parseModelsConfig(env);
  } catch (error) {
    if (error instanceof ModelsConfigError) return error;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

describe('parseModelsConfig', () => {
  it('defaults to local models in ~/.cache/llmbus/models with 2 threads', () => {
    const config = parseModelsConfig({ HOME: '/home/x' });
    expect(config.provider).toBe('local');
    expect(config.openai).toBeUndefined();
    expect(config.modelsDir).toMatch(/\.cache\/llmbus\/models$/);
    expect(config.local).toEqual({
      threads: 2,
      queueLimit: 32,
      timeoutMs: 120_000,
      chatModelPath: undefined,
      embeddingModelPath: undefined,
    });
  });

  it('switches to the OpenAI-compatible endpoint when OPENAI_API_KEY is set', () => {
    const config = parseModelsConfig({
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
      OPENAI_CHAT_MODEL: 'llama3.1:8b',
      OPENAI_EMBEDDING_MODEL: 'nomic-embed-text',
      OPENAI_TIMEOUT_MS: '5000',
      OPENAI_MAX_RETRIES: '0',
    });
    expect(config.provider).toBe('openai');
    expect(config.openai).toEqual({
      apiKey: 'sk-test',
      baseURL: 'http://127.0.0.1:11434/v1',
      chatModel: 'llama3.1:8b',
      embeddingModel: 'nomic-embed-text',
      timeoutMs: 5000,
      maxRetries: 0,
    });
  });

  it('lets LLMBUS_MODEL_PROVIDER=local keep local models despite an API key', () => {
    expect(parseModelsConfig({ OPENAI_API_KEY: 'sk', LLMBUS_MODEL_PROVIDER: 'local' }).provider).toBe(
      'local',
    );
  });

  it('takes model path overrides as absolute paths', () => {
    const config = parseModelsConfig({
      LLMBUS_CHAT_MODEL_PATH: '/m/chat.gguf',
      LLMBUS_EMBEDDING_MODEL_PATH: 'rel/e.gguf',
    });
    expect(config.local.chatModelPath).toBe('/m/chat.gguf');
    expect(config.local.embeddingModelPath).toMatch(/^\/.*rel\/e\.gguf$/);
  });

  it.each([
    ['OPENAI_BASE_URL', { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: 'not a url' }, 'expected an http(s) URL'],
    ['OPENAI_BASE_URL', { OPENAI_BASE_URL: 'ftp://x' }, 'expected an http:// or https:// URL'],
    ['OPENAI_TIMEOUT_MS', { OPENAI_API_KEY: 'k', OPENAI_TIMEOUT_MS: '10s' }, 'expected an integer'],
    ['OPENAI_MAX_RETRIES', { OPENAI_MAX_RETRIES: '99' }, 'from 0 to 10'],
    ['LLMBUS_LOCAL_THREADS', { LLMBUS_LOCAL_THREADS: '0' }, 'from 1 to 256'],
    ['LLMBUS_LOCAL_QUEUE_LIMIT', { LLMBUS_LOCAL_QUEUE_LIMIT: '-1' }, 'expected an integer'],
    ['LLMBUS_MODEL_PROVIDER', { LLMBUS_MODEL_PROVIDER: 'azure' }, 'expected "local", "openai" or "registry"'],
    ['OPENAI_API_KEY', { LLMBUS_MODEL_PROVIDER: 'openai' }, 'OPENAI_API_KEY is required'],
    ['OPENAI_CHAT_MODEL', { OPENAI_CHAT_MODEL: 'gpt 4o' }, 'without spaces'],
  ])('names %s when it is invalid', (variable, env, expected) => {
    const error = configError(env);
    expect(error.variable).toBe(variable);
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain(variable);
    expect(error.message).toContain(expected);
  });
});
