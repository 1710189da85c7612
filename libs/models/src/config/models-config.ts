import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseTenantRateLimits, type TenantRateLimits } from '../limits/rate-limited-model-provider';

export interface LocalModelsConfig {
  /** Overrides the chat GGUF path (else `<modelsDir>/<registry entry's model>`). */
  readonly chatModelPath?: string;
  /** Overrides the embedding GGUF path. */
  readonly embeddingModelPath?: string;
  /** CPU threads per context; more threads than cores makes llama.cpp dramatically slower. */
  readonly threads: number;
  /** Requests allowed to wait per context while one runs; a full queue rejects with `rate_limited`. */
  readonly queueLimit: number;
  readonly timeoutMs: number;
}

export interface OpenAIModelsConfig {
  readonly apiKey: string;
  readonly baseURL?: string;
  /** Registry id or endpoint model name; the registry's cheapest small chat model when unset. */
  readonly chatModel?: string;
  /** Registry id or endpoint model name; the registry's cheapest embedding model when unset. */
  readonly embeddingModel?: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** OPENAI_TRUSTED_FOR_PII: overrides `trustedForPii` of every model this endpoint serves. */
  readonly trustedForPii?: boolean;
}

export interface ModelsConfig {
  /**
   * `local`: the local GGUF models; `openai`: one OpenAI-compatible endpoint for every call;
   * `registry`: every registry entry whose endpoint is configured is live at once (local models,
   * and each OpenAI-compatible entry whose `apiKeyEnv` variable is set), routed per call.
   */
  readonly provider: 'local' | 'openai' | 'registry';
  readonly modelsDir: string;
  /** Registry file; the lib's models.registry.json when unset. */
  readonly registryPath?: string;
  readonly local: LocalModelsConfig;
  /** Present exactly when `provider` is `openai`. */
  readonly openai?: OpenAIModelsConfig;
  /** Registry mode: the OpenAI-compatible call settings every endpoint shares, and the environment to read keys from. */
  readonly endpoints?: RegistryEndpointsConfig;
  /** LLMBUS_EMBEDDING_MODEL: registry id of the embedding model in registry mode (else the cheapest live one). */
  readonly embeddingModelId?: string;
  /** Rate limits: where buckets live and the per-tenant limits. */
  readonly limits: RateLimitsConfig;
}

/** LLMBUS_TENANT_RATE_LIMITS, LLMBUS_RATE_LIMIT_MAX_WAIT_MS and REDIS_URL. */
export interface RateLimitsConfig {
  readonly tenants: TenantRateLimits;
  readonly maxWaitMs: number;
  /** Buckets shared through this Redis when set; in process memory otherwise. */
  readonly redisUrl?: string;
}

/** Settings of registry mode (`LLMBUS_MODEL_PROVIDER=registry`). */
export interface RegistryEndpointsConfig {
  /** OPENAI_BASE_URL: the endpoint of OpenAI-compatible entries without their own `baseURL`. */
  readonly defaultBaseURL?: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** Looks up the key variable an entry names (`apiKeyEnv`, else OPENAI_API_KEY); undefined when unset. */
  readonly apiKey: (variable: string) => string | undefined;
}

/** A bad environment variable; `variable` names it and `message` says the expected form. */
export class ModelsConfigError extends Error {
  override readonly name = 'ModelsConfigError';
  readonly code = 'invalid_config';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ModelsConfigError(
      name,
      `${name}=${JSON.stringify(raw)} is invalid: expected an integer from ${min} to ${max}`,
    );
  }
  return value;
}

function boolean(env: Env, name: string): boolean | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  if (raw !== 'true' && raw !== 'false') {
    throw new ModelsConfigError(
      name,
      `${name}=${JSON.stringify(raw)} is invalid: expected "true" or "false"`,
    );
  }
  return raw === 'true';
}

function filePath(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  if (raw.includes('\0')) throw new ModelsConfigError(name, `${name} is invalid: expected a file path`);
  return isAbsolute(raw) ? raw : resolve(raw);
}

function url(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ModelsConfigError(
      name,
      `${name}=${JSON.stringify(raw)} is invalid: expected an http(s) URL such as http://127.0.0.1:11434/v1`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ModelsConfigError(
      name,
      `${name}=${JSON.stringify(raw)} is invalid: expected an http:// or https:// URL`,
    );
  }
  return raw;
}

function modelName(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && /\s/.test(raw)) {
    throw new ModelsConfigError(
      name,
      `${name}=${JSON.stringify(raw)} is invalid: expected a model name or registry id without spaces`,
    );
  }
  return raw;
}

/** The default models cache dir: `$LLMBUS_MODELS_DIR`, else `~/.cache/llmbus/models` (same rule as models:pull). */
export function defaultModelsDir(env: Env = process.env): string {
  return filePath(env, 'LLMBUS_MODELS_DIR') ?? join(homedir(), '.cache', 'llmbus', 'models');
}

/**
 * Parses the model environment variables once at start-up. Local models are the default; setting
 * OPENAI_API_KEY switches to the OpenAI-compatible endpoint (LLMBUS_MODEL_PROVIDER forces either).
 * Throws ModelsConfigError naming the first bad variable.
 */
export function parseModelsConfig(env: Env = process.env): ModelsConfig {
  const apiKey = text(env, 'OPENAI_API_KEY');
  const forced = text(env, 'LLMBUS_MODEL_PROVIDER');
  if (forced !== undefined && forced !== 'local' && forced !== 'openai' && forced !== 'registry') {
    throw new ModelsConfigError(
      'LLMBUS_MODEL_PROVIDER',
      `LLMBUS_MODEL_PROVIDER=${JSON.stringify(forced)} is invalid: expected "local", "openai" or "registry"`,
    );
  }
  const provider = forced ?? (apiKey === undefined ? 'local' : 'openai');
  if (provider === 'openai' && apiKey === undefined) {
    throw new ModelsConfigError(
      'OPENAI_API_KEY',
      'OPENAI_API_KEY is required when LLMBUS_MODEL_PROVIDER=openai (any non-empty value for endpoints without auth, e.g. Ollama)',
    );
  }

  const local: LocalModelsConfig = {
    chatModelPath: filePath(env, 'LLMBUS_CHAT_MODEL_PATH'),
    embeddingModelPath: filePath(env, 'LLMBUS_EMBEDDING_MODEL_PATH'),
    threads: integer(env, 'LLMBUS_LOCAL_THREADS', 2, 1, 256),
    queueLimit: integer(env, 'LLMBUS_LOCAL_QUEUE_LIMIT', 32, 0, 100_000),
    timeoutMs: integer(env, 'LLMBUS_LOCAL_TIMEOUT_MS', 120_000, 1, 3_600_000),
  };
  // Parse the OpenAI variables even in local mode so a typo fails at start-up, not at the switch.
  const openaiSettings = {
    baseURL: url(env, 'OPENAI_BASE_URL'),
    chatModel: modelName(env, 'OPENAI_CHAT_MODEL'),
    embeddingModel: modelName(env, 'OPENAI_EMBEDDING_MODEL'),
    timeoutMs: integer(env, 'OPENAI_TIMEOUT_MS', 60_000, 1, 3_600_000),
    maxRetries: integer(env, 'OPENAI_MAX_RETRIES', 2, 0, 10),
    trustedForPii: boolean(env, 'OPENAI_TRUSTED_FOR_PII'),
  };
  const embeddingModelId = modelName(env, 'LLMBUS_EMBEDDING_MODEL');
  let tenants: TenantRateLimits;
  try {
    tenants = parseTenantRateLimits(text(env, 'LLMBUS_TENANT_RATE_LIMITS'));
  } catch (error) {
    throw new ModelsConfigError('LLMBUS_TENANT_RATE_LIMITS', (error as Error).message);
  }
  const redisUrl = text(env, 'REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\/\S+$/.test(redisUrl)) {
    throw new ModelsConfigError(
      'REDIS_URL',
      'REDIS_URL is invalid: expected redis://host:port (or rediss:// for TLS)',
    );
  }
  const limits: RateLimitsConfig = {
    tenants,
    maxWaitMs: integer(env, 'LLMBUS_RATE_LIMIT_MAX_WAIT_MS', 30_000, 0, 3_600_000),
    ...(redisUrl === undefined ? {} : { redisUrl }),
  };
  return {
    provider,
    modelsDir: defaultModelsDir(env),
    registryPath: filePath(env, 'LLMBUS_MODELS_REGISTRY'),
    local,
    openai: provider === 'openai' && apiKey !== undefined ? { apiKey, ...openaiSettings } : undefined,
    ...(provider === 'registry'
      ? {
          endpoints: {
            defaultBaseURL: openaiSettings.baseURL,
            timeoutMs: openaiSettings.timeoutMs,
            maxRetries: openaiSettings.maxRetries,
            apiKey: (variable: string) => text(env, variable),
          },
        }
      : {}),
    ...(embeddingModelId === undefined ? {} : { embeddingModelId }),
    limits,
  };
}
