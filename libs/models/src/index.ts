// Public API of @llmbus/models: the model provider port, its adapters (OpenAI-compatible HTTP,
// local GGUF via node-llama-cpp), the model registry, env config and a scripted test double.
export type {
  ChatDelta,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  EmbedOptions,
  EmbedResponse,
  FinishReason,
  JsonSchema,
  ModelProvider,
  ModelTokenCounter,
  ModelUsage,
  ResponseSchema,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from './model-provider';
export { MODEL_ERROR_CODES, ModelError, isModelError, isRetryableModelError } from './model-error';
export type { ModelErrorCode, ModelErrorOptions } from './model-error';
export { streamChat } from './chat-stream';
export type { ChatStream } from './chat-stream';
export { cosineSimilarity, normalizeVector } from './embedding-vectors';
export type { ModelsLogger } from './models-logger';

export {
  MODEL_CAPABILITIES,
  MODEL_PROVIDER_KINDS,
  MODEL_TIERS,
  ModelRegistry,
  TOKENIZER_ENCODINGS,
  ModelRegistryError,
  computeCostUsd,
  isTrustedForPii,
} from './registry/model-registry';
export type {
  ModelCapability,
  ModelEntry,
  ModelProviderKind,
  ModelRegistryErrorCode,
  ModelSelector,
  ModelTier,
  TokenizerEncoding,
} from './registry/model-registry';
export { DEFAULT_MODEL_REGISTRY_PATH, loadModelRegistry } from './registry/model-registry-file';

export { ModelsConfigError, defaultModelsDir, parseModelsConfig } from './config/models-config';
export type { LocalModelsConfig, ModelsConfig, OpenAIModelsConfig } from './config/models-config';
export { createModelProviders } from './create-model-providers';
export type { CreateModelProvidersOptions, ModelChoice, ModelProviders } from './create-model-providers';

export { OpenAIModelProvider } from './openai/openai-model-provider';
export type { OpenAIModelProviderOptions } from './openai/openai-model-provider';
export { LocalModelProvider } from './local/local-model-provider';
export type { LocalModelBinding, LocalModelProviderOptions, LocalWarmUp } from './local/local-model-provider';
export { EngineFailure } from './local/local-inference-engine';
export type {
  CompletionResult,
  EmbeddingResult,
  LocalInferenceEngine,
  ModelLoadInfo,
} from './local/local-inference-engine';
export type { CompletionJob, ModelRole, ModelSpec } from './local/worker-protocol';
export { DEFAULT_GRAMMAR_LIMITS } from './local/grammar-schema';
export type { GrammarLimits } from './local/grammar-schema';

export { ScriptedModelProvider } from './testing/scripted-model-provider';
export type {
  RecordedEmbedCall,
  ScriptedChatReply,
  ScriptedChatStep,
  ScriptedModelProviderOptions,
} from './testing/scripted-model-provider';

export { adaptSchemaForStrictMode, stripAdaptedNulls, strictSchemaProblems } from './strict-schema';
export type { StrictSchemaProblem } from './strict-schema';
export { conservativeTokenCounter } from './tokens/token-counter';
export { openAIEncodingOf, openAITokenCounter } from './tokens/openai-token-counter';
export { LocalTokenizer } from './local/local-tokenizer';
export { FallbackModelProvider } from './routing/fallback-model-provider';
export type { FallbackModelProviderOptions } from './routing/fallback-model-provider';
export { ModelCallAborter } from './model-call-aborter';
export { TracedModelProvider } from './traced-model-provider';
export type { DefaultModels } from './traced-model-provider';
export { MemoryRateLimitStore, RedisRateLimitStore } from './limits/rate-limit-store';
export type { BucketDemand, RateLimitStore, TakeResult } from './limits/rate-limit-store';
export {
  RateLimitedModelProvider,
  estimateTokens,
  parseTenantRateLimits,
} from './limits/rate-limited-model-provider';
export type {
  RateLimit,
  RateLimitedModelProviderOptions,
  TenantRateLimits,
} from './limits/rate-limited-model-provider';
export { MemoryResponseCache, RedisResponseCache, responseCacheKey } from './cache/response-cache';
export type {
  CachedResponse,
  ResponseCache,
  ResponseCacheLimits,
  ResponseCacheScope,
} from './cache/response-cache';
export { apiKeyVariableOf, createRegistryEndpoints } from './routing/registry-endpoints';
export type { RegistryEndpoints, RegistryEndpointsOptions } from './routing/registry-endpoints';
export type { RateLimitsConfig, RegistryEndpointsConfig } from './config/models-config';
export type { SelectOptions } from './create-model-providers';
export * from './redis-client';
