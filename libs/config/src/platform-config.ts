import { ApiKeyConfigError, ApiKeyRegistry, OidcSettings, TrustedSources } from '@llmbus/access';
import { RETRY_ROUNDS } from '@llmbus/contracts';
import {
  ascendingMs,
  ConfigError,
  Env,
  hostPorts,
  int,
  oneOf,
  optional,
  secretKey32,
  secretKey32List,
  str,
  url,
} from './env';
import { loadOidcSettings, loadTrustedSources } from './identity-config';

export const RUN_MODES = ['embedded', 'distributed'] as const;
export type RunMode = (typeof RUN_MODES)[number];

/** LOG_FORMAT: `auto` is readable lines when `npm start` runs in a terminal, JSON otherwise. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormatSetting = (typeof LOG_FORMATS)[number];

/** Settings every stage shares. Parsed once at start-up; a bad value stops the process. */
export interface PlatformConfig {
  readonly mode: RunMode;
  readonly logLevel: string;
  readonly logFormat: LogFormatSetting;
  /** Only in distributed mode. */
  readonly kafka?: {
    readonly brokers: string[];
    readonly clientId: string;
    /** How long the coordinator waits for a dead member before giving its partitions away. */
    readonly sessionTimeoutMs: number;
    /** How long the coordinator waits for a live member to rejoin during a rebalance; covers the longest handler. */
    readonly rebalanceTimeoutMs: number;
    /** `exactly-once`: Kafka transactions per consumed message (outputs + offset). */
    readonly delivery: 'at-least-once' | 'exactly-once';
    /** Messages one consumer works on at once, across its partitions and keys (LLMBUS_CONSUMER_CONCURRENCY). */
    readonly concurrency: number;
    /** The Kafka client library behind the bus (LLMBUS_KAFKA_CLIENT); unset means kafkajs. */
    readonly client?: KafkaClient;
    /**
     * Static group membership (KAFKA_GROUP_INSTANCE_ID, platformatic client only): this replica's
     * stable `group.instance.id`; unset means dynamic members.
     */
    readonly groupInstanceId?: string;
  };
  readonly topicPrefix: string;
  readonly maxEventBytes: number;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  /**
   * Milliseconds in-flight work gets after the first SIGTERM/SIGINT before it is aborted and left
   * uncommitted for redelivery (LLMBUS_SHUTDOWN_GRACE_MS).
   */
  readonly shutdownGraceMs: number;
  /**
   * LLMBUS_AUDIT_FETCH_WAIT_MS: how long the auditor's Kafka fetches may wait for 64 KiB of events
   * (ms; 0 answers at once). Batching its records cuts its CPU per request; request statuses and the
   * request-id reuse check read the trail, so they can see an event that much later.
   */
  readonly auditFetchWaitMs: number;
  /** Delays of the delayed retry topics, round 1 first, in milliseconds; empty = no retry topics. */
  readonly retryTopicDelaysMs: readonly number[];
  readonly http: { readonly host: string; readonly port: number };
  /** Port of /healthz and /metrics on stages without an HTTP API (generator, validator, retriever). */
  readonly metricsPort?: number;
  /** Undefined when API_KEYS is unset (embedded mode then generates a key and prints it). */
  readonly apiKeys?: ApiKeyRegistry;
  /** Bearer JWT verification (OIDC_*); undefined when only API keys are accepted. */
  readonly oidc?: OidcSettings;
  /** Which CloudEvents source may assert which tenants on the request topic (LLMBUS_TRUSTED_SOURCES). */
  readonly trustedSources?: TrustedSources;
  readonly databaseUrl?: string;
  readonly dataDir?: string;
  readonly qdrantUrl?: string;
  readonly qdrantApiKey?: string;
  readonly workflowsDir?: string;
  /** LLMBUS_TOOLS_DIR: folder of tool files (`tools/*.yaml`); the repository's `tools/` when absent. */
  readonly toolsDir?: string;
  /** LLMBUS_APPROVAL_EXPIRY_MS: how long a `high` tool call waits for a decision before the request fails. */
  readonly approvalExpiryMs: number;
  /**
   * LLMBUS_PII_KEY: AES-256 key that encrypts the PII placeholder mapping travelling from the
   * generator to the validator. Needed in distributed mode whenever a model is not trusted for PII.
   */
  readonly piiKey?: Buffer;
  /**
   * LLMBUS_PII_PREVIOUS_KEYS: earlier PII keys (comma-separated, each like LLMBUS_PII_KEY), used only
   * to open mappings, trail values and attestations sealed under them; nothing new is sealed with
   * them. Empty when unset (optional so configs built by hand need not name it).
   */
  readonly piiPreviousKeys?: readonly Buffer[];
  /**
   * Deadline of one generator model call in milliseconds: MODEL_CALL_DEADLINE_MS (120 s), or
   * LLMBUS_LOCAL_TIMEOUT_MS when that is longer (a slow local model must get the deadline the
   * operator raised; the Kafka rebalance timeout is sized to the same maximum).
   */
  readonly modelCallDeadlineMs?: number;
}

/**
 * Deadline of one model call in milliseconds: the generator's default, and the default of the local
 * provider (`LLMBUS_LOCAL_TIMEOUT_MS`).
 */
export const MODEL_CALL_DEADLINE_MS = 120_000;

/** Kafka client libraries the bus runs on (LLMBUS_KAFKA_CLIENT). */
export const KAFKA_CLIENTS = ['kafkajs', 'platformatic'] as const;
export type KafkaClient = (typeof KAFKA_CLIENTS)[number];

/** Kafka's rule for group.instance.id (as for topic names): 1 to 249 of [a-zA-Z0-9._-]. */
const GROUP_INSTANCE_ID = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * The Kafka client (LLMBUS_KAFKA_CLIENT, default kafkajs) and static membership
 * (KAFKA_GROUP_INSTANCE_ID, which only the platformatic client supports: kafkajs has no
 * group.instance.id).
 */
function kafkaClient(env: Env): { client: KafkaClient; groupInstanceId?: string } {
  const client = oneOf(env, 'LLMBUS_KAFKA_CLIENT', KAFKA_CLIENTS, 'kafkajs');
  const groupInstanceId = optional(env, 'KAFKA_GROUP_INSTANCE_ID');
  if (groupInstanceId === undefined) return { client };
  if (!GROUP_INSTANCE_ID.test(groupInstanceId))
    throw new ConfigError(
      'KAFKA_GROUP_INSTANCE_ID',
      "1 to 249 characters of a-z, A-Z, 0-9, '.', '_', '-' (a stable name of this replica, e.g. its pod name)",
      groupInstanceId,
    );
  if (client !== 'platformatic')
    throw new ConfigError(
      'KAFKA_GROUP_INSTANCE_ID',
      'unset with LLMBUS_KAFKA_CLIENT=kafkajs (kafkajs has no static membership; set LLMBUS_KAFKA_CLIENT=platformatic)',
      groupInstanceId,
    );
  return { client, groupInstanceId };
}

/** Margin above the longest handler for the rejoin itself (commit, JoinGroup round trip). */
const REBALANCE_MARGIN_MS = 30_000;
const MAX_KAFKA_TIMEOUT_MS = 3_600_000;

/**
 * Kafka group timeouts from KAFKA_SESSION_TIMEOUT_MS and KAFKA_REBALANCE_TIMEOUT_MS. Handlers
 * heartbeat during long work, so the session timeout only bounds how long a dead member keeps its
 * partitions. A member busy in a handler cannot rejoin a rebalance before the handler returns, so
 * the rebalance timeout must cover the longest handler: every attempt of the slowest model call
 * (a delivery retries it up to LLMBUS_MAX_ATTEMPTS times) plus a margin. A member that misses it
 * is evicted and its message is handled again elsewhere.
 */
function kafkaGroupTimeouts(
  env: Env,
  maxAttempts: number,
): { sessionTimeoutMs: number; rebalanceTimeoutMs: number } {
  const sessionTimeoutMs = int(env, 'KAFKA_SESSION_TIMEOUT_MS', 6_000, 6_000, 600_000);
  const longestModelCall = Math.max(
    MODEL_CALL_DEADLINE_MS,
    int(env, 'LLMBUS_LOCAL_TIMEOUT_MS', MODEL_CALL_DEADLINE_MS, 1, MAX_KAFKA_TIMEOUT_MS),
    int(env, 'OPENAI_TIMEOUT_MS', 60_000, 1, MAX_KAFKA_TIMEOUT_MS),
  );
  const derived = Math.min(
    MAX_KAFKA_TIMEOUT_MS,
    Math.max(sessionTimeoutMs, maxAttempts * longestModelCall + REBALANCE_MARGIN_MS),
  );
  const rebalanceTimeoutMs = int(env, 'KAFKA_REBALANCE_TIMEOUT_MS', derived, 0, MAX_KAFKA_TIMEOUT_MS);
  if (rebalanceTimeoutMs < sessionTimeoutMs) {
    throw new ConfigError(
      'KAFKA_REBALANCE_TIMEOUT_MS',
      `milliseconds from KAFKA_SESSION_TIMEOUT_MS (${sessionTimeoutMs}) to ${MAX_KAFKA_TIMEOUT_MS}, long enough for the slowest handler (default ${derived})`,
      String(rebalanceTimeoutMs),
    );
  }
  return { sessionTimeoutMs, rebalanceTimeoutMs };
}

/** Parses the shared environment variables; `defaults` lets a service set its own port and mode. */
export function loadPlatformConfig(
  env: Env,
  defaults: { mode: RunMode; httpPort: number; clientId: string; servesHttp?: boolean },
): PlatformConfig {
  const mode = oneOf(env, 'LLMBUS_MODE', RUN_MODES, defaults.mode);
  const logLevel = oneOf(
    env,
    'LOG_LEVEL',
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    'info',
  );
  const logFormat = oneOf(env, 'LOG_FORMAT', LOG_FORMATS, 'auto');
  const metricsPort =
    optional(env, 'METRICS_PORT') === undefined ? undefined : int(env, 'METRICS_PORT', 0, 0, 65535);
  const oidc = loadOidcSettings(env);
  const keysSpec = optional(env, 'API_KEYS');
  let apiKeys: ApiKeyRegistry | undefined;
  if (keysSpec !== undefined) {
    try {
      apiKeys = ApiKeyRegistry.parse(keysSpec);
    } catch (error) {
      if (error instanceof ApiKeyConfigError) throw new ConfigError('API_KEYS', error.message, '<redacted>');
      throw error;
    }
  } else if (
    mode === 'distributed' &&
    oidc === undefined &&
    (defaults.servesHttp !== false || metricsPort !== undefined)
  ) {
    throw new ConfigError(
      'API_KEYS',
      '<key>:<tenant>:<role>[+<role>...][:<group>|<group>...] entries separated by "," (or bearer JWTs: OIDC_ISSUER)',
      undefined,
    );
  }
  const maxAttempts = int(env, 'LLMBUS_MAX_ATTEMPTS', 3, 1, 20);
  return {
    modelCallDeadlineMs: Math.max(
      MODEL_CALL_DEADLINE_MS,
      int(env, 'LLMBUS_LOCAL_TIMEOUT_MS', MODEL_CALL_DEADLINE_MS, 1, MAX_KAFKA_TIMEOUT_MS),
    ),
    mode,
    logLevel,
    logFormat,
    kafka:
      mode === 'distributed'
        ? {
            brokers: hostPorts(env, 'KAFKA_BROKERS'),
            clientId: str(env, 'KAFKA_CLIENT_ID', defaults.clientId),
            ...kafkaGroupTimeouts(env, maxAttempts),
            delivery: oneOf(
              env,
              'LLMBUS_DELIVERY',
              ['at-least-once', 'exactly-once'] as const,
              'at-least-once',
            ),
            concurrency: int(env, 'LLMBUS_CONSUMER_CONCURRENCY', 8, 1, 256),
            ...kafkaClient(env),
          }
        : undefined,
    topicPrefix: str(env, 'LLMBUS_TOPIC_PREFIX', ''),
    maxEventBytes: int(env, 'LLMBUS_MAX_EVENT_BYTES', 512 * 1024, 1024, 16 * 1024 * 1024),
    maxAttempts,
    retryDelayMs: int(env, 'LLMBUS_RETRY_DELAY_MS', 200, 0, 60_000),
    shutdownGraceMs: int(env, 'LLMBUS_SHUTDOWN_GRACE_MS', 10_000, 0, 60 * 60 * 1000),
    auditFetchWaitMs: int(env, 'LLMBUS_AUDIT_FETCH_WAIT_MS', 100, 0, 5_000),
    retryTopicDelaysMs: ascendingMs(env, 'LLMBUS_RETRY_TOPIC_DELAYS_MS', [1_000, 10_000, 60_000], {
      maxCount: RETRY_ROUNDS,
      min: 0,
      max: 24 * 60 * 60 * 1000,
    }),
    http: {
      host: str(env, 'HTTP_HOST', '127.0.0.1'),
      port: int(env, 'HTTP_PORT', defaults.httpPort, 0, 65535),
    },
    metricsPort,
    apiKeys,
    oidc,
    trustedSources: loadTrustedSources(env),
    databaseUrl: optional(env, 'DATABASE_URL'),
    dataDir: optional(env, 'LLMBUS_DATA_DIR'),
    qdrantUrl: url(env, 'QDRANT_URL'),
    qdrantApiKey: optional(env, 'QDRANT_API_KEY'),
    workflowsDir: optional(env, 'LLMBUS_WORKFLOWS_DIR'),
    toolsDir: optional(env, 'LLMBUS_TOOLS_DIR'),
    approvalExpiryMs: int(env, 'LLMBUS_APPROVAL_EXPIRY_MS', 60 * 60 * 1000, 1_000, 30 * 24 * 60 * 60 * 1000),
    piiKey: secretKey32(env, 'LLMBUS_PII_KEY'),
    piiPreviousKeys: secretKey32List(env, 'LLMBUS_PII_PREVIOUS_KEYS'),
  };
}
