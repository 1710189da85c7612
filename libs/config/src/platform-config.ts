import { ApiKeyConfigError, ApiKeyRegistry } from '@llmbus/access';
import { RETRY_ROUNDS } from '@llmbus/contracts';
import { ascendingMs, ConfigError, Env, hostPorts, int, oneOf, optional, secretKey32, str, url } from './env';

export const RUN_MODES = ['embedded', 'distributed'] as const;
export type RunMode = (typeof RUN_MODES)[number];

/** Settings every stage shares. Parsed once at start-up; a bad value stops the process. */
export interface PlatformConfig {
  readonly mode: RunMode;
  readonly logLevel: string;
  /** Only in distributed mode. */
  readonly kafka?: {
    readonly brokers: string[];
    readonly clientId: string;
    readonly sessionTimeoutMs: number;
    /** `exactly-once`: Kafka transactions per consumed message (outputs + offset). */
    readonly delivery: 'at-least-once' | 'exactly-once';
  };
  readonly topicPrefix: string;
  readonly maxEventBytes: number;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  /** Delays of the delayed retry topics, round 1 first, in milliseconds; empty = no retry topics. */
  readonly retryTopicDelaysMs: readonly number[];
  readonly http: { readonly host: string; readonly port: number };
  /** Port of /healthz and /metrics on stages without an HTTP API (generator, validator, retriever). */
  readonly metricsPort?: number;
  /** Undefined when API_KEYS is unset (embedded mode then generates a key and prints it). */
  readonly apiKeys?: ApiKeyRegistry;
  readonly databaseUrl?: string;
  readonly dataDir?: string;
  readonly qdrantUrl?: string;
  readonly qdrantApiKey?: string;
  readonly workflowsDir?: string;
  /**
   * LLMBUS_PII_KEY: AES-256 key that encrypts the PII placeholder mapping travelling from the
   * generator to the validator. Needed in distributed mode whenever a model is not trusted for PII.
   */
  readonly piiKey?: Buffer;
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
  const metricsPort =
    optional(env, 'METRICS_PORT') === undefined ? undefined : int(env, 'METRICS_PORT', 0, 0, 65535);
  const keysSpec = optional(env, 'API_KEYS');
  let apiKeys: ApiKeyRegistry | undefined;
  if (keysSpec !== undefined) {
    try {
      apiKeys = ApiKeyRegistry.parse(keysSpec);
    } catch (error) {
      if (error instanceof ApiKeyConfigError) throw new ConfigError('API_KEYS', error.message, '<redacted>');
      throw error;
    }
  } else if (mode === 'distributed' && (defaults.servesHttp !== false || metricsPort !== undefined)) {
    throw new ConfigError(
      'API_KEYS',
      '<key>:<tenant>:<role>[+<role>...] entries separated by ","',
      undefined,
    );
  }
  return {
    mode,
    logLevel,
    kafka:
      mode === 'distributed'
        ? {
            brokers: hostPorts(env, 'KAFKA_BROKERS'),
            clientId: str(env, 'KAFKA_CLIENT_ID', defaults.clientId),
            sessionTimeoutMs: int(env, 'KAFKA_SESSION_TIMEOUT_MS', 60_000, 6_000, 600_000),
            delivery: oneOf(
              env,
              'LLMBUS_DELIVERY',
              ['at-least-once', 'exactly-once'] as const,
              'at-least-once',
            ),
          }
        : undefined,
    topicPrefix: str(env, 'LLMBUS_TOPIC_PREFIX', ''),
    maxEventBytes: int(env, 'LLMBUS_MAX_EVENT_BYTES', 512 * 1024, 1024, 16 * 1024 * 1024),
    maxAttempts: int(env, 'LLMBUS_MAX_ATTEMPTS', 3, 1, 20),
    retryDelayMs: int(env, 'LLMBUS_RETRY_DELAY_MS', 200, 0, 60_000),
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
    databaseUrl: optional(env, 'DATABASE_URL'),
    dataDir: optional(env, 'LLMBUS_DATA_DIR'),
    qdrantUrl: url(env, 'QDRANT_URL'),
    qdrantApiKey: optional(env, 'QDRANT_API_KEY'),
    workflowsDir: optional(env, 'LLMBUS_WORKFLOWS_DIR'),
    piiKey: secretKey32(env, 'LLMBUS_PII_KEY'),
  };
}
