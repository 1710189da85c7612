import { ModelCallAborter } from './model-call-aborter';
import { join } from 'node:path';
import { parseModelsConfig, type ModelsConfig } from './config/models-config';
import type { LocalInferenceEngine } from './local/local-inference-engine';
import { LocalModelProvider } from './local/local-model-provider';
import type { ModelProvider } from './model-provider';
import type { ModelsLogger } from './models-logger';
import { OpenAIModelProvider } from './openai/openai-model-provider';
import { FallbackModelProvider } from './routing/fallback-model-provider';
import { createRegistryEndpoints } from './routing/registry-endpoints';
import { newRedis } from './redis-client';
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore } from './limits/rate-limit-store';
import { RateLimitedModelProvider } from './limits/rate-limited-model-provider';
import { MemoryResponseCache, RedisResponseCache, type ResponseCache } from './cache/response-cache';
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
   * The cheapest available model with the tier, capabilities and at least `minContextWindow`
   * tokens; when no model has that tier (a local-only setup has no large model), the cheapest of
   * any tier. `pin` (a registry id) bypasses the choice: it must be available and have the
   * capabilities. Throws ModelRegistryError `no_matching_model` / `unknown_model` saying why.
   */
  select(tier: ModelTier, capabilities: readonly ModelCapability[], options?: SelectOptions): ModelChoice;
  /** Registry mode: entry id → why it is not live in this process (empty in the other modes). */
  readonly notLive: ReadonlyMap<string, string>;
  /**
   * Model responses of workflows that opt in (`model.cache`), keyed by tenant, workflow version,
   * model and full prompt: Redis at REDIS_URL (shared by replicas), else process memory.
   */
  readonly responseCache: ResponseCache;
  /**
   * Aborts every model call in progress, and every later one, with ModelError `aborted` (through
   * the calls' AbortSignals): for a process whose shutdown grace period is over.
   */
  abortInFlight(reason: string): void;
  /** Closes every provider (stops the local model worker). */
  close(): Promise<void>;
}

/** Extra constraints of `ModelProviders.select`. */
export interface SelectOptions {
  /** A registry id the workflow pins. */
  readonly pin?: string;
  /** Tokens of context the call needs (prompt plus output budget). */
  readonly minContextWindow?: number;
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
  /** Where rate-limit buckets live; default: Redis at config.limits.redisUrl, else process memory. */
  readonly rateLimitStore?: RateLimitStore;
  /** Where cached responses live; default: Redis at config.limits.redisUrl, else process memory. */
  readonly responseCache?: ResponseCache;
}

// The bucket store, created only when some limit applies (no Redis connection otherwise).
function rateLimitStoreFor(
  config: ModelsConfig,
  registry: ModelRegistry,
  options: CreateModelProvidersOptions,
): RateLimitStore | undefined {
  const anyLimit =
    config.limits.tenants.size > 0 ||
    registry.entries.some((entry) => entry.rpm !== undefined || entry.tpm !== undefined);
  if (!anyLimit) return undefined;
  if (options.rateLimitStore !== undefined) return options.rateLimitStore;
  return config.limits.redisUrl === undefined
    ? new MemoryRateLimitStore()
    : new RedisRateLimitStore(newRedis(config.limits.redisUrl, { maxRetriesPerRequest: 2 }));
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
  let notLive: ReadonlyMap<string, string> = new Map();

  const store = rateLimitStoreFor(config, registry, options);
  const ownsStore = store !== undefined && store !== options.rateLimitStore;
  const limited = (
    provider: ModelProvider,
    defaultChatModel: ModelEntry,
    scope: 'model' | 'tenant' | 'both' = 'both',
  ): ModelProvider =>
    store === undefined
      ? provider
      : new RateLimitedModelProvider(provider, {
          registry,
          store,
          defaultChatModel,
          tenantLimits: config.limits.tenants,
          maxWaitMs: config.limits.maxWaitMs,
          scope,
        });
  const responseCache =
    options.responseCache ??
    (config.limits.redisUrl === undefined
      ? new MemoryResponseCache()
      : new RedisResponseCache(
          newRedis(config.limits.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 }),
        ));
  const releaseAll = (release: () => Promise<void>) => async () => {
    await release();
    if (ownsStore) await store.close();
    if (responseCache !== options.responseCache) await responseCache.close();
  };

  if (config.provider === 'registry' && config.endpoints !== undefined) {
    const wired = createRegistryEndpoints({ ...config, endpoints: config.endpoints }, registry, {
      logger: options.logger,
      localEngine: options.localEngine,
      wrap: (provider, entry) => limited(provider, entry, 'model'),
    });
    chatModel = wired.chatModel;
    chat = limited(wired.chat, chatModel, 'tenant');
    embeddingModel = wired.embeddingModel;
    available = [...wired.live];
    notLive = wired.notLive;
    release = releaseAll(() => wired.close());
    return assemble({
      config,
      registry,
      chat,
      embeddings: wired.embeddings,
      chatModel,
      embeddingModel,
      available,
      notLive,
      release,
      responseCache,
      traced: options.traced,
    });
  }

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

  return assemble({
    config,
    registry,
    chat: limited(chat, chatModel),
    embeddings: chat,
    chatModel,
    embeddingModel,
    available,
    notLive,
    release: releaseAll(release),
    responseCache,
    traced: options.traced,
  });
}

interface Assembly {
  readonly config: ModelsConfig;
  readonly registry: ModelRegistry;
  readonly chat: ModelProvider;
  readonly embeddings: ModelProvider;
  readonly chatModel: ModelEntry;
  readonly embeddingModel: ModelEntry;
  readonly available: readonly ModelEntry[];
  readonly notLive: ReadonlyMap<string, string>;
  readonly release: () => Promise<void>;
  readonly responseCache: ResponseCache;
  /** Wrap chat and embeddings in GenAI spans, outermost (the call as the caller sees it). */
  readonly traced?: boolean;
}

function assemble(parts: Assembly): ModelProviders {
  const { available } = parts;
  const defaults = { chat: parts.chatModel.id, embeddings: parts.embeddingModel.id };
  // One abort (the process stopping) reaches every call of the set, chat and embeddings alike.
  const aborter = new ModelCallAborter();
  const abortableChat = aborter.wrap(parts.chat);
  const abortableEmbeddings =
    parts.embeddings === parts.chat ? abortableChat : aborter.wrap(parts.embeddings);
  const chat = parts.traced ? new TracedModelProvider(abortableChat, defaults) : abortableChat;
  const embeddings =
    parts.traced && parts.embeddings !== parts.chat
      ? new TracedModelProvider(abortableEmbeddings, defaults)
      : parts.traced
        ? chat
        : abortableEmbeddings;
  const pool = ModelRegistry.fromEntries(available);
  return {
    config: parts.config,
    registry: parts.registry,
    chat,
    embeddings,
    chatModel: parts.chatModel,
    embeddingModel: parts.embeddingModel,
    available,
    notLive: parts.notLive,
    responseCache: parts.responseCache,
    abortInFlight: (reason) => aborter.abortInFlight(reason),
    select(tier, capabilities, selectOptions = {}) {
      if (selectOptions.pin !== undefined) {
        const pinned = parts.registry.get(selectOptions.pin);
        if (pool.find(pinned.id) === undefined) {
          throw new ModelRegistryError(
            'no_matching_model',
            `the workflow pins model ${pinned.id}, which this process does not serve` +
              (parts.notLive.has(pinned.id) ? ` (${parts.notLive.get(pinned.id)})` : '') +
              `; available: ${available.map((e) => e.id).join(', ')}`,
          );
        }
        const missing = capabilities.filter((capability) => !pinned.capabilities.includes(capability));
        if (missing.length > 0) {
          throw new ModelRegistryError(
            'no_matching_model',
            `the workflow pins model ${pinned.id}, which lacks the capabilities [${missing.join(', ')}] it needs`,
          );
        }
        return { provider: chat, model: pinned };
      }
      const fits = (entry: ModelEntry) => entry.contextWindow >= (selectOptions.minContextWindow ?? 0);
      const model =
        pool.candidates({ tier, capabilities }).find(fits) ?? pool.candidates({ capabilities }).find(fits);
      if (model === undefined) {
        throw new ModelRegistryError(
          'no_matching_model',
          `no configured model has capabilities [${capabilities.join(', ')}]` +
            (selectOptions.minContextWindow === undefined
              ? ''
              : ` and a context window of at least ${selectOptions.minContextWindow} tokens`) +
            ` (available: ${available.map((e) => e.id).join(', ')})`,
        );
      }
      return { provider: chat, model };
    },
    close: parts.release,
  };
}
