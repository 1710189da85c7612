import Ajv, { type ErrorObject } from 'ajv';

export const MODEL_PROVIDER_KINDS = ['local', 'openai'] as const;
export const MODEL_CAPABILITIES = ['chat', 'json', 'tools', 'embeddings'] as const;
export const MODEL_TIERS = ['small', 'large'] as const;

export type ModelProviderKind = (typeof MODEL_PROVIDER_KINDS)[number];
export type ModelCapability = (typeof MODEL_CAPABILITIES)[number];
export type ModelTier = (typeof MODEL_TIERS)[number];

/** One model the platform may call, as listed in models.registry.json. */
export interface ModelEntry {
  /** Stable id used in routing rules, usage records and audit (e.g. `local/gemma-3-270m`). */
  readonly id: string;
  readonly provider: ModelProviderKind;
  /** OpenAI: the model name sent to the endpoint. Local: the GGUF file name inside the models dir. */
  readonly model: string;
  /** Tokens of prompt plus completion the model accepts (for local models: the context allocated). */
  readonly contextWindow: number;
  readonly pricePer1MInputUsd: number;
  readonly pricePer1MOutputUsd: number;
  readonly capabilities: readonly ModelCapability[];
  readonly tier: ModelTier;
  /** Length of the vectors `embed` returns; present exactly when capabilities include `embeddings`. */
  readonly embeddingDimension?: number;
  readonly description?: string;
  /**
   * Whether prompts may carry raw personal data to this model. Absent: true for local models
   * (in-process, nothing leaves the machine), false for OpenAI-compatible endpoints; see
   * `isTrustedForPii`.
   */
  readonly trustedForPii?: boolean;
  /**
   * The byte-pair encoding of an OpenAI-compatible model, for exact prompt budgets. Absent: inferred
   * from OpenAI model names; other models (vLLM, Ollama) are counted by a conservative upper bound.
   * Local models always use their GGUF's own tokenizer.
   */
  readonly tokenizer?: TokenizerEncoding;
  /**
   * Registry ids to try, in order, when this model is `unavailable`, `rate_limited` or times out
   * (see FallbackModelProvider). Each must be another entry of the registry.
   */
  readonly fallbacks?: readonly string[];
  /**
   * OpenAI-compatible entries only: the endpoint serving this model (OpenAI's, or OPENAI_BASE_URL,
   * when absent). Entries with different endpoints are live side by side when
   * `LLMBUS_MODEL_PROVIDER=registry`.
   */
  readonly baseURL?: string;
  /**
   * OpenAI-compatible entries only: the name of the environment variable holding this endpoint's
   * API key (`OPENAI_API_KEY` when absent). The key itself never appears in the registry. In
   * registry mode an entry whose variable is unset is not live.
   */
  readonly apiKeyEnv?: string;
  /** Requests per minute the provider allows for this model (token bucket; see ModelRateLimiter). */
  readonly rpm?: number;
  /** Tokens (prompt + completion) per minute the provider allows for this model. */
  readonly tpm?: number;
}

/** Encodings a registry entry may name in `tokenizer` (implemented by gpt-tokenizer). */
export const TOKENIZER_ENCODINGS = ['o200k_base', 'cl100k_base'] as const;
export type TokenizerEncoding = (typeof TOKENIZER_ENCODINGS)[number];

/** Whether raw PII may be sent to the model: its `trustedForPii`, else true only for local models. */
export function isTrustedForPii(entry: ModelEntry): boolean {
  return entry.trustedForPii ?? entry.provider === 'local';
}

export type ModelRegistryErrorCode = 'invalid_registry' | 'unknown_model' | 'no_matching_model';

/** A registry file or lookup problem; `message` names the entry and field to fix. */
export class ModelRegistryError extends Error {
  override readonly name = 'ModelRegistryError';
  constructor(
    readonly code: ModelRegistryErrorCode,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

const entrySchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'provider',
    'model',
    'contextWindow',
    'pricePer1MInputUsd',
    'pricePer1MOutputUsd',
    'capabilities',
    'tier',
  ],
  properties: {
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9._/-]{0,127}$' },
    provider: { enum: MODEL_PROVIDER_KINDS },
    model: { type: 'string', minLength: 1 },
    contextWindow: { type: 'integer', minimum: 16 },
    pricePer1MInputUsd: { type: 'number', minimum: 0 },
    pricePer1MOutputUsd: { type: 'number', minimum: 0 },
    capabilities: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: MODEL_CAPABILITIES } },
    tier: { enum: MODEL_TIERS },
    embeddingDimension: { type: 'integer', minimum: 1 },
    description: { type: 'string' },
    trustedForPii: { type: 'boolean' },
    tokenizer: { enum: TOKENIZER_ENCODINGS },
    fallbacks: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1 } },
    // No userinfo (user:key@) and no query string (?api-key=…): keys live in the variable apiKeyEnv names.
    baseURL: { type: 'string', pattern: '^https?://[^\\s@?#]+$' },
    apiKeyEnv: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]{0,127}$' },
    rpm: { type: 'integer', minimum: 1 },
    tpm: { type: 'integer', minimum: 1 },
  },
  allOf: [
    {
      if: { properties: { capabilities: { contains: { const: 'embeddings' } } } },
      then: { required: ['embeddingDimension'] },
      else: { not: { required: ['embeddingDimension'] } },
    },
    {
      if: { properties: { provider: { const: 'local' } } },
      then: { not: { anyOf: [{ required: ['baseURL'] }, { required: ['apiKeyEnv'] }] } },
    },
  ],
} as const;

const registrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['models'],
  properties: {
    $schema: { type: 'string' },
    models: { type: 'array', minItems: 1, items: entrySchema },
  },
} as const;

const validateRegistry = new Ajv({ allErrors: true, strict: false }).compile(registrySchema);

function describeError(error: ErrorObject, root: unknown): string {
  const match = /^\/models\/(\d+)(\/.*)?$/.exec(error.instancePath);
  const rawEntries: unknown = (root as { models?: unknown }).models;
  let where = error.instancePath === '' ? 'registry' : error.instancePath;
  let field = '';
  if (match !== null && Array.isArray(rawEntries)) {
    const entry: unknown = rawEntries[Number(match[1])];
    const id = typeof entry === 'object' && entry !== null && 'id' in entry ? String(entry.id) : '(no id)';
    where = `models[${match[1]}] (id "${id}")`;
    field = match[2]?.slice(1).replace(/\//g, '.') ?? '';
  }
  switch (error.keyword) {
    case 'required':
      return `${where}: field "${String(error.params.missingProperty)}" is required`;
    case 'additionalProperties':
      return `${where}: unknown field "${String(error.params.additionalProperty)}"`;
    case 'not':
      return !error.schemaPath.includes('/allOf/1/')
        ? `${where}: field "embeddingDimension" is only allowed when capabilities include "embeddings"`
        : `${where}: fields "baseURL" and "apiKeyEnv" are only allowed for provider "openai" (local models run in-process)`;
    case 'pattern':
      return field === 'apiKeyEnv'
        ? `${where}: field "apiKeyEnv" must name an environment variable (e.g. "GROQ_API_KEY"), not hold a key`
        : field === 'baseURL'
          ? `${where}: field "baseURL" must be an http(s) URL without credentials or query string (no user:key@, no ?api-key=): put the key in the variable apiKeyEnv names`
          : `${where}: field "${field}" must be an http(s) URL`;
    case 'if':
      return `${where}: entries with the "embeddings" capability need "embeddingDimension"`;
    case 'enum':
      return `${where}: field "${field}" must be one of ${JSON.stringify(error.params.allowedValues)}`;
    default:
      return `${where}: field "${field || '(entry)'}" ${error.message ?? 'is invalid'}`;
  }
}

export interface ModelSelector {
  readonly tier?: ModelTier;
  /** Every listed capability must be present. */
  readonly capabilities: readonly ModelCapability[];
  /** Restrict to these providers (e.g. only the ones configured in this process). */
  readonly providers?: readonly ModelProviderKind[];
}

/** Cost in USD of a call with the given token counts, at the entry's per-1M-token prices. */
export function computeCostUsd(entry: ModelEntry, promptTokens: number, completionTokens: number): number {
  const cost =
    (promptTokens * entry.pricePer1MInputUsd + completionTokens * entry.pricePer1MOutputUsd) / 1_000_000;
  // Round to 1e-9 USD so sums of many calls stay readable and stable.
  return Math.round(cost * 1e9) / 1e9;
}

/** The validated list of models, with lookup, selection by tier and capability, and cost. */
export class ModelRegistry {
  private readonly byId: ReadonlyMap<string, ModelEntry>;

  private constructor(readonly entries: readonly ModelEntry[]) {
    this.byId = new Map(entries.map((entry) => [entry.id, entry]));
  }

  /** Validates a parsed registry document (`{ models: [...] }`); `source` names it in errors. */
  static fromConfig(document: unknown, source = 'models.registry.json'): ModelRegistry {
    if (!validateRegistry(document)) {
      const details = (validateRegistry.errors ?? [])
        .filter((e) => e.keyword !== 'if')
        .map((e) => describeError(e, document));
      const unique = [...new Set(details.length > 0 ? details : ['registry is invalid'])];
      throw new ModelRegistryError('invalid_registry', `${source} is invalid: ${unique.join('; ')}`, unique);
    }
    const entries = (document as { models: ModelEntry[] }).models;
    return ModelRegistry.fromEntries(entries, source);
  }

  /** Builds a registry from entries already typed in code (still checks ids are unique). */
  static fromEntries(entries: readonly ModelEntry[], source = 'model entries'): ModelRegistry {
    const seen = new Set<string>();
    for (const [index, entry] of entries.entries()) {
      if (seen.has(entry.id)) {
        throw new ModelRegistryError(
          'invalid_registry',
          `${source} is invalid: models[${index}] (id "${entry.id}"): field "id" duplicates an earlier entry; ids must be unique`,
        );
      }
      seen.add(entry.id);
    }
    for (const [index, entry] of entries.entries()) {
      for (const fallback of entry.fallbacks ?? []) {
        if (fallback === entry.id || !seen.has(fallback)) {
          throw new ModelRegistryError(
            'invalid_registry',
            `${source} is invalid: models[${index}] (id "${entry.id}"): fallback "${fallback}" ` +
              (fallback === entry.id ? 'is the model itself' : 'is not an id of this registry'),
          );
        }
      }
    }
    return new ModelRegistry(
      entries.map((entry) =>
        Object.freeze({
          ...entry,
          capabilities: [...entry.capabilities],
          ...(entry.fallbacks === undefined ? {} : { fallbacks: [...entry.fallbacks] }),
        }),
      ),
    );
  }

  /** A registry with `extra` entries added (an entry with an existing id replaces it). */
  with(extra: readonly ModelEntry[]): ModelRegistry {
    const ids = new Set(extra.map((entry) => entry.id));
    return ModelRegistry.fromEntries([...this.entries.filter((entry) => !ids.has(entry.id)), ...extra]);
  }

  /** The entry with this id, or undefined. */
  find(id: string): ModelEntry | undefined {
    return this.byId.get(id);
  }

  /** The entry with this id; throws `unknown_model` naming the known ids. */
  get(id: string): ModelEntry {
    const entry = this.byId.get(id);
    if (entry === undefined) {
      throw new ModelRegistryError(
        'unknown_model',
        `model "${id}" is not in the model registry; known ids: ${[...this.byId.keys()].join(', ')}`,
      );
    }
    return entry;
  }

  /** All entries matching the selector, cheapest first (by input plus output price). */
  candidates(selector: ModelSelector): ModelEntry[] {
    return this.entries
      .filter(
        (entry) =>
          (selector.tier === undefined || entry.tier === selector.tier) &&
          (selector.providers === undefined || selector.providers.includes(entry.provider)) &&
          selector.capabilities.every((capability) => entry.capabilities.includes(capability)),
      )
      .sort(
        (a, b) =>
          a.pricePer1MInputUsd + a.pricePer1MOutputUsd - (b.pricePer1MInputUsd + b.pricePer1MOutputUsd),
      );
  }

  /** The cheapest entry matching tier, capabilities and providers; throws `no_matching_model` if none. */
  pick(selector: ModelSelector): ModelEntry {
    const [best] = this.candidates(selector);
    if (best === undefined) {
      throw new ModelRegistryError(
        'no_matching_model',
        `no model in the registry has tier ${selector.tier ?? 'any'}, capabilities [${selector.capabilities.join(', ')}]` +
          `${selector.providers ? ` and provider ${selector.providers.join('|')}` : ''}; add one to models.registry.json`,
      );
    }
    return best;
  }

  /** Cost in USD of a call to model `id` with these token counts. */
  costUsd(id: string, promptTokens: number, completionTokens: number): number {
    return computeCostUsd(this.get(id), promptTokens, completionTokens);
  }
}
