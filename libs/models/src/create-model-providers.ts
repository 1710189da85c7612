import { join } from 'node:path';
import { parseModelsConfig, type ModelsConfig } from './config/models-config';
import type { LocalInferenceEngine } from './local/local-inference-engine';
import { LocalModelProvider } from './local/local-model-provider';
import type { ModelProvider } from './model-provider';
import type { ModelsLogger } from './models-logger';
import { OpenAIModelProvider } from './openai/openai-model-provider';
import { FallbackModelProvider } from './routing/fallback-model-provider';
import { TracedModelProvider } from './traced-model-provider';
import { loadModelRegistry } from './registry/model-registry-file';
import {
  ModelRegistry,
  ModelRegistryError,
  type ModelCapability,
  type ModelEntry,
  type ModelTier,
} from './registry/model-registry';

export interface ModelChoice {
  readonly provider: ModelProvider;
  readonly model: ModelEntry;
}

/** The wired providers of one process, plus the models they serve. */
export interface ModelProviders {
  readonly config: ModelsConfig;
  readonly registry: ModelRegistry;
  /** Serves chat for `chatModel` (and every entry in `available` with the chat capability). */
  readonly chat: ModelProvider;
  /** Serves embeddings for `embeddingModel`. */
  readonly embeddings: ModelProvider;
  readonly chatModel: ModelEntry;
  readonly embeddingModel: ModelEntry;
  /** Entries this process can actually call. */
  readonly available: readonly ModelEntry[];
  /**
   * The cheapest available model with the tier and capabilities; when no model has that tier
   * (a local-only setup has no large model), the cheapest of any tier.
   */
  select(tier: ModelTier, capabilities: readonly ModelCapability[]): ModelChoice;
  /** Closes every provider (stops the local model worker). */
  close(): Promise<void>;
}

export interface CreateModelProvidersOptions {
  /** Defaults to the file named by config.registryPath, else libs/models/models.registry.json. */
  readonly registry?: ModelRegistry;
  readonly logger?: ModelsLogger;
  /** Local inference runtime override (tests). */
  readonly localEngine?: LocalInferenceEngine;
  /**
   * Wraps the provider in a TracedModelProvider, so every call is a GenAI span (service processes
   * do; without a tracing SDK the spans cost nothing). Off by default: callers get the adapter.
   */
  readonly traced?: boolean;
}

// A model named in OPENAI_CHAT_MODEL / OPENAI_EMBEDDING_MODEL: a registry id, a registry entry's
// model name, or a name the registry does not know (then listed with price 0 and a warning).
function resolveOpenAIModel(
  registry: ModelRegistry,
  requested: string,
  capability: 'chat' | 'embeddings',
  variable: string,
  logger: ModelsLogger | undefined,
): ModelEntry {
  const known =
    registry.find(requested) ??
    registry.entries.find(
      (entry) =>
        entry.provider === 'openai' && entry.model === requested && entry.capabilities.includes(capability),
    );
  if (known !== undefined) {
    if (known.provider !== 'openai' || !known.capabilities.includes(capability)) {
      throw new ModelRegistryError(
        'unknown_model',
        `${variable}=${requested} names registry entry ${known.id}, which is not an openai model with the ${capability} capability`,
      );
    }
    return known;
  }
  logger?.warn(
    { variable, model: requested },
    `${variable}=${requested} is not in the model registry: its cost is reported as 0; add an entry with its prices`,
  );
  return {
    id: `openai/${requested}`,
    provider: 'openai',
    model: requested,
    contextWindow: capability === 'chat' ? 128_000 : 8_191,
    pricePer1MInputUsd: 0,
    pricePer1MOutputUsd: 0,
    capabilities: capability === 'chat' ? ['chat', 'json', 'tools'] : ['embeddings'],
    tier: 'small',
  };
}

/**
 * Wires the model providers from config: local GGUF models by default, the OpenAI-compatible
 * endpoint when OPENAI_API_KEY is set. No model is loaded or called until first use.
 */
export function createModelProviders(
  config: ModelsConfig = parseModelsConfig(),
  options: CreateModelProvidersOptions = {},
): ModelProviders {
  let registry = options.registry ?? loadModelRegistry(config.registryPath);
  let chat: ModelProvider;
  let release: () => Promise<void>;
  let chatModel: ModelEntry;
  let embeddingModel: ModelEntry;
  let available: ModelEntry[];

  if (config.openai !== undefined) {
    const openai = config.openai;
    chatModel =
      openai.chatModel === undefined
        ? registry.pick({ tier: 'small', capabilities: ['chat'], providers: ['openai'] })
        : resolveOpenAIModel(registry, openai.chatModel, 'chat', 'OPENAI_CHAT_MODEL', options.logger);
    embeddingModel =
      openai.embeddingModel === undefined
        ? registry.pick({ capabilities: ['embeddings'], providers: ['openai'] })
        : resolveOpenAIModel(
            registry,
            openai.embeddingModel,
            'embeddings',
            'OPENAI_EMBEDDING_MODEL',
            options.logger,
          );
    registry = registry.with(
      [chatModel, embeddingModel].filter((entry) => registry.find(entry.id) === undefined),
    );
    if (openai.trustedForPii !== undefined) {
      // The operator vouches for (or against) the endpoint as a whole: an on-premises vLLM, say.
      const trustedForPii = openai.trustedForPii;
      registry = registry.with(
        registry.entries.filter((e) => e.provider === 'openai').map((e) => ({ ...e, trustedForPii })),
      );
      chatModel = registry.get(chatModel.id);
      embeddingModel = registry.get(embeddingModel.id);
    }
    // A custom endpoint (OPENAI_CHAT_MODEL set) serves what it was told to, not OpenAI's catalogue.
    available = [
      ...(openai.chatModel === undefined
        ? registry.entries.filter(
            (entry) => entry.provider === 'openai' && entry.capabilities.includes('chat'),
          )
        : [chatModel]),
      embeddingModel,
    ];
    const endpoint = new OpenAIModelProvider({
      apiKey: openai.apiKey,
      baseURL: openai.baseURL,
      registry,
      defaultChatModel: chatModel,
      defaultEmbeddingModel: embeddingModel,
      timeoutMs: openai.timeoutMs,
      maxRetries: openai.maxRetries,
    });
    const served = new Set(available.map((entry) => entry.id));
    const fallbackRegistry = registry;
    const defaultChat = chatModel;
    // Registry `fallbacks` among the models this endpoint serves; none listed: the endpoint as is.
    chat = available.some((entry) => (entry.fallbacks ?? []).length > 0)
      ? new FallbackModelProvider({
          registry: fallbackRegistry,
          providerFor: (entry) => (served.has(entry.id) ? endpoint : undefined),
          defaultChatModel: defaultChat,
          logger: options.logger,
        })
      : endpoint;
    release = () => endpoint.close();
  } else {
    chatModel = registry.pick({ tier: 'small', capabilities: ['chat'], providers: ['local'] });
    embeddingModel = registry.pick({ capabilities: ['embeddings'], providers: ['local'] });
    available = [chatModel, embeddingModel];
    chat = new LocalModelProvider({
      registry,
      chat: {
        entry: chatModel,
        path: config.local.chatModelPath ?? join(config.modelsDir, chatModel.model),
        pathVariable: 'LLMBUS_CHAT_MODEL_PATH',
      },
      embedding: {
        entry: embeddingModel,
        path: config.local.embeddingModelPath ?? join(config.modelsDir, embeddingModel.model),
        pathVariable: 'LLMBUS_EMBEDDING_MODEL_PATH',
      },
      threads: config.local.threads,
      queueLimit: config.local.queueLimit,
      timeoutMs: config.local.timeoutMs,
      logger: options.logger,
      engine: options.localEngine,
    });
    const local = chat;
    release = () => local.close();
  }

  const finalRegistry = registry;
  // Every call a GenAI span (a no-op without a tracing SDK), for the processes that ask for it.
  const provider = options.traced
    ? new TracedModelProvider(chat, { chat: chatModel.id, embeddings: embeddingModel.id })
    : chat;
  return {
    config,
    registry: finalRegistry,
    chat: provider,
    embeddings: provider,
    chatModel,
    embeddingModel,
    available,
    select(tier, capabilities) {
      const pool = ModelRegistry.fromEntries(available);
      const [model] = pool.candidates({ tier, capabilities });
      const fallback = model ?? pool.candidates({ capabilities })[0];
      if (fallback === undefined) {
        throw new ModelRegistryError(
          'no_matching_model',
          `no configured model has capabilities [${capabilities.join(', ')}] (available: ${available.map((e) => e.id).join(', ')})`,
        );
      }
      return { provider, model: fallback };
    },
    close: release,
  };
}
