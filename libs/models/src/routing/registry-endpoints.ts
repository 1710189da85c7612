import { join } from 'node:path';
import type { ModelsConfig, RegistryEndpointsConfig } from '../config/models-config';
import type { LocalInferenceEngine } from '../local/local-inference-engine';
import { LocalModelProvider } from '../local/local-model-provider';
import { ModelError } from '../model-error';
import type { ModelProvider } from '../model-provider';
import type { ModelsLogger } from '../models-logger';
import { OpenAIModelProvider } from '../openai/openai-model-provider';
import { ModelRegistryError, type ModelEntry, type ModelRegistry } from '../registry/model-registry';
import { FallbackModelProvider } from './fallback-model-provider';

/** The key variable an OpenAI-compatible entry reads: its `apiKeyEnv`, else OPENAI_API_KEY. */
export function apiKeyVariableOf(entry: ModelEntry): string {
  return entry.apiKeyEnv ?? 'OPENAI_API_KEY';
}

/** What registry mode wired: the live entries, one provider per endpoint, and why others are not live. */
export interface RegistryEndpoints {
  /** Entries some provider of this process serves, in registry order. */
  readonly live: readonly ModelEntry[];
  /** Entry id → why it is not live (e.g. "GROQ_API_KEY is not set"). */
  readonly notLive: ReadonlyMap<string, string>;
  /** Routes every chat call to the provider serving its model, with registry fallbacks and breakers. */
  readonly chat: ModelProvider;
  /** The provider serving the embedding model. */
  readonly embeddings: ModelProvider;
  readonly chatModel: ModelEntry;
  readonly embeddingModel: ModelEntry;
  /** The provider serving an entry, or undefined when it is not live. */
  providerFor(entry: ModelEntry): ModelProvider | undefined;
  close(): Promise<void>;
}

export interface RegistryEndpointsOptions {
  readonly logger?: ModelsLogger;
  readonly localEngine?: LocalInferenceEngine;
  /** Wraps the provider serving one entry (rate limits per model), before fallbacks route to it. */
  readonly wrap?: (provider: ModelProvider, entry: ModelEntry) => ModelProvider;
}

/**
 * Registry mode (`LLMBUS_MODEL_PROVIDER=registry`): every entry whose endpoint is configured is
 * live in the same process. Local entries run in-process (the cheapest local chat entry and the
 * cheapest local embedding entry; the GGUF files load on first use). An OpenAI-compatible entry is
 * live when the variable named by its `apiKeyEnv` (else OPENAI_API_KEY) is set; entries sharing a
 * base URL and key variable share one client. Chat calls go to the provider of the model they name,
 * through FallbackModelProvider, so registry `fallbacks` may cross providers (hosted → local).
 * Throws ModelRegistryError `no_matching_model` when no chat or no embedding entry is live.
 */
export function createRegistryEndpoints(
  config: ModelsConfig & { readonly endpoints: RegistryEndpointsConfig },
  registry: ModelRegistry,
  options: RegistryEndpointsOptions = {},
): RegistryEndpoints {
  const { endpoints } = config;
  const notLive = new Map<string, string>();
  const served = new Map<string, ModelProvider>();
  const owned: ModelProvider[] = [];

  // Local: one chat and one embedding model per process (each is a llama.cpp context of its own).
  const localChat = registry.candidates({ capabilities: ['chat'], providers: ['local'] })[0];
  const localEmbedding = registry.candidates({ capabilities: ['embeddings'], providers: ['local'] })[0];
  if (localChat !== undefined || localEmbedding !== undefined) {
    const local = new LocalModelProvider({
      registry,
      ...(localChat === undefined
        ? {}
        : {
            chat: {
              entry: localChat,
              path: config.local.chatModelPath ?? join(config.modelsDir, localChat.model),
              pathVariable: 'LLMBUS_CHAT_MODEL_PATH',
            },
          }),
      ...(localEmbedding === undefined
        ? {}
        : {
            embedding: {
              entry: localEmbedding,
              path: config.local.embeddingModelPath ?? join(config.modelsDir, localEmbedding.model),
              pathVariable: 'LLMBUS_EMBEDDING_MODEL_PATH',
            },
          }),
      threads: config.local.threads,
      queueLimit: config.local.queueLimit,
      timeoutMs: config.local.timeoutMs,
      logger: options.logger,
      engine: options.localEngine,
    });
    owned.push(local);
    for (const entry of [localChat, localEmbedding]) if (entry !== undefined) served.set(entry.id, local);
  }
  for (const entry of registry.entries) {
    if (entry.provider === 'local' && !served.has(entry.id)) {
      notLive.set(entry.id, 'one local chat and one local embedding model run per process (the cheapest)');
    }
  }

  // OpenAI-compatible: one client per (base URL, key variable).
  const clients = new Map<string, OpenAIModelProvider>();
  for (const entry of registry.entries) {
    if (entry.provider !== 'openai') continue;
    const variable = apiKeyVariableOf(entry);
    const apiKey = endpoints.apiKey(variable);
    if (apiKey === undefined) {
      notLive.set(entry.id, `${variable} is not set`);
      continue;
    }
    const baseURL = entry.baseURL ?? endpoints.defaultBaseURL;
    const key = `${baseURL ?? 'https://api.openai.com/v1'}\u0000${variable}`;
    let client = clients.get(key);
    if (client === undefined) {
      client = new OpenAIModelProvider({
        apiKey,
        ...(baseURL === undefined ? {} : { baseURL }),
        registry,
        timeoutMs: endpoints.timeoutMs,
        maxRetries: endpoints.maxRetries,
      });
      clients.set(key, client);
      owned.push(client);
    }
    served.set(entry.id, client);
  }

  if (options.wrap !== undefined) {
    for (const entry of registry.entries) {
      const provider = served.get(entry.id);
      if (provider !== undefined) served.set(entry.id, options.wrap(provider, entry));
    }
  }
  const live = registry.entries.filter((entry) => served.has(entry.id));
  if (notLive.size > 0) {
    options.logger?.info(
      { notLive: Object.fromEntries(notLive) },
      `model registry: ${live.length} entries live, ${notLive.size} not live`,
    );
  }
  const liveRegistryCandidates = (capability: 'chat' | 'embeddings', tier?: 'small') =>
    registry
      .candidates({ capabilities: [capability], ...(tier === undefined ? {} : { tier }) })
      .filter((entry) => served.has(entry.id));
  const chatModel = liveRegistryCandidates('chat', 'small')[0] ?? liveRegistryCandidates('chat')[0];
  if (chatModel === undefined) {
    throw new ModelRegistryError(
      'no_matching_model',
      `registry mode: no chat model is live (${describeNotLive(notLive)}); set the key variables the registry names or add a local chat model`,
    );
  }
  let embeddingModel: ModelEntry | undefined;
  if (config.embeddingModelId !== undefined) {
    embeddingModel = registry.get(config.embeddingModelId);
    if (!embeddingModel.capabilities.includes('embeddings') || !served.has(embeddingModel.id)) {
      throw new ModelRegistryError(
        'no_matching_model',
        `LLMBUS_EMBEDDING_MODEL=${config.embeddingModelId} is not a live embedding model` +
          (notLive.has(embeddingModel.id) ? ` (${notLive.get(embeddingModel.id)})` : ''),
      );
    }
  } else {
    embeddingModel = liveRegistryCandidates('embeddings')[0];
  }
  if (embeddingModel === undefined) {
    throw new ModelRegistryError(
      'no_matching_model',
      `registry mode: no embedding model is live (${describeNotLive(notLive)})`,
    );
  }
  const providerFor = (entry: ModelEntry) => served.get(entry.id);
  const servingEmbeddings = served.get(embeddingModel.id);
  if (servingEmbeddings === undefined) {
    throw new ModelError('unavailable', `no provider serves ${embeddingModel.id}`, { retryable: false });
  }
  // Callers (ingestion, retrieval) embed without naming a model: they get the chosen one, whichever
  // client serves it (an OpenAI-compatible client has no default embedding model of its own).
  const embeddingId = embeddingModel.id;
  const embeddingProvider: ModelProvider = {
    name: servingEmbeddings.name,
    chat: (request) => servingEmbeddings.chat(request),
    embed: (texts, options) =>
      servingEmbeddings.embed(texts, { ...options, model: options?.model ?? embeddingId }),
    close: () => Promise.resolve(),
  };
  return {
    live,
    notLive,
    chat: new FallbackModelProvider({
      registry,
      providerFor,
      defaultChatModel: chatModel,
      logger: options.logger,
      embeddings: embeddingProvider,
    }),
    embeddings: embeddingProvider,
    chatModel,
    embeddingModel,
    providerFor,
    close: async () => {
      await Promise.all(owned.map((provider) => provider.close()));
    },
  };
}

function describeNotLive(notLive: ReadonlyMap<string, string>): string {
  return notLive.size === 0
    ? 'the registry lists none'
    : [...notLive].map(([id, why]) => `${id}: ${why}`).join('; ');
}
