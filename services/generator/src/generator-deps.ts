import type { ApiKeyRegistry } from '@llmbus/access';
import type { EventBus } from '@llmbus/bus';
import type { PlatformConfig } from '@llmbus/config';
import type { ModelTier } from '@llmbus/contracts';
import type { ModelProvider, ResponseCache } from '@llmbus/models';
import type { Logger } from '@llmbus/observability';
import type { TicketTrailReader, ToolCallClaims, ToolRegistry, ToolResultCache } from '@llmbus/tools';
import type { TokenCounter, WorkflowRegistry } from '@llmbus/workflows';

/** The model a tier maps to: its registry id (provider default when absent) and context window in tokens. */
export interface ChatModelChoice {
  readonly modelId?: string;
  readonly contextWindow: number;
  /** US dollars per million tokens; when known, calls that could exceed the workflow's budget are refused. */
  readonly pricePer1MInputUsd?: number;
  readonly pricePer1MOutputUsd?: number;
  /** True when prompts may carry raw PII to this model; otherwise the workflow's prompt policy masks them. */
  readonly trustedForPii?: boolean;
}

/** Constraints a workflow puts on the model choice. */
export interface ModelSelection {
  /** The registry id the workflow pins (`model.id`). */
  readonly pin?: string;
}

/** What the generator needs; the caller owns the bus and the model provider and closes them. */
export interface GeneratorDeps {
  readonly bus: EventBus;
  readonly config: PlatformConfig;
  readonly logger: Logger;
  /** Unused: the generator serves no HTTP. Accepted so every stage takes the same deps. */
  readonly apiKeys?: ApiKeyRegistry;
  readonly models: ModelProvider;
  /** Maps a model tier (or a workflow's pinned registry id) to a model; default: the provider's default model with a 4,096-token window. */
  readonly selectModel?: (tier: ModelTier, options?: ModelSelection) => ChatModelChoice;
  /** Defaults to the folder config.workflowsDir (LLMBUS_WORKFLOWS_DIR), else the repository's `workflows/`. */
  readonly workflows?: WorkflowRegistry;
  /** Counts prompt tokens for the context-window budget; default: the model's tokenizer (provider's `tokenCounter`), else a conservative upper bound. */
  readonly tokenCounter?: TokenCounter;
  /**
   * Tools the workflows may allowlist; default: the tool files of config.toolsDir (LLMBUS_TOOLS_DIR,
   * else the repository's `tools/`) with the product's built-in tools, opened by startGenerator.
   */
  readonly tools?: ToolRegistry;
  /** Cache of model answers for workflows with `model.cache`; none: such workflows call the model every time. */
  readonly responseCache?: ResponseCache;
  /** Results of cacheable read tools, per tenant and call; default: in process memory. */
  readonly toolResultCache?: ToolResultCache;
  /**
   * Execution claims of `write` and `high` tool calls, taken before each runs so a redelivered
   * round never runs one twice: Redis (REDIS_URL) in distributed mode; default: process memory,
   * which holds only within one process (the embedded mode).
   */
  readonly toolCallClaims?: ToolCallClaims;
  /** Where `ticket_history` reads the tenant's past requests (the audit store); unset: the tool fails naming it. */
  readonly ticketReader?: TicketTrailReader;
  /** Deadline of one model call in milliseconds; default MODEL_CALL_DEADLINE_MS (120 s), which KAFKA_REBALANCE_TIMEOUT_MS is sized to. */
  readonly modelTimeoutMs?: number;
}
