import type { ApiKeyRegistry } from '@llmbus/access';
import type { AuditStore } from '@llmbus/audit';
import type { EventBus } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import type { Env, PlatformConfig } from '@llmbus/config';
import type { ModelProviders } from '@llmbus/models';
import type { Logger } from '@llmbus/observability';
import type { VectorStore } from '@llmbus/retrieval';
import type { ToolCallClaims } from '@llmbus/tools';
import { startAuditor } from '@llmbus/svc-auditor';
import { chatModelChooser, startGenerator } from '@llmbus/svc-generator';
import { composeRetriever, startRetriever } from '@llmbus/svc-retriever';
import { classifierModels, startRouter } from '@llmbus/svc-router';
import { startValidator, verifierChat } from '@llmbus/svc-validator';

/** Everything the five stages need when they share one process. */
export interface PlatformDeps {
  readonly bus: EventBus;
  readonly config: PlatformConfig;
  /** The environment the stages read their own settings from (RETRIEVAL_*), as each does when it runs alone. */
  readonly env: Env;
  readonly logger: Logger;
  readonly apiKeys: ApiKeyRegistry;
  readonly models: ModelProviders;
  readonly vectorStore: VectorStore;
  readonly auditStore: AuditStore;
  /** HTTP port of the router's ingress (0 = any free port). */
  readonly routerPort: number;
  /** Where the generator takes the claims of side-effecting tool calls; in process memory when omitted. */
  readonly toolCallClaims?: ToolCallClaims;
  /** HTTP port of the auditor's API (0 = any free port). */
  readonly auditorPort: number;
}

export interface RunningPlatform {
  readonly routerUrl: string;
  readonly auditorUrl: string;
  /** Stops the stages, ingress first, so that in-flight work drains downstream. */
  close(): Promise<void>;
}

/**
 * Starts the five stages on one bus, each as its own Nest application and consumer group, exactly
 * as they run as separate services. The auditor starts first so that it sees every event.
 */
export async function startPlatform(deps: PlatformDeps): Promise<RunningPlatform> {
  const { bus, config, logger, apiKeys } = deps;
  // Composed before any stage starts, so a bad RETRIEVAL_* value stops start-up naming the variable.
  const retriever = composeRetriever(deps.env, config, deps.models, logger);
  const started: StageApp[] = [];
  try {
    started.push(
      await startAuditor({
        bus,
        logger: logger.child({ stage: 'auditor' }),
        apiKeys,
        store: deps.auditStore,
        config: { ...config, http: { ...config.http, port: deps.auditorPort } },
      }),
    );
    started.push(
      await startRetriever({
        bus,
        config,
        logger: logger.child({ stage: 'retriever' }),
        vectorStore: deps.vectorStore,
        ...retriever.stage,
      }),
    );
    started.push(
      await startGenerator({
        bus,
        config,
        logger: logger.child({ stage: 'generator' }),
        models: deps.models.chat,
        selectModel: chatModelChooser(deps.models),
        responseCache: deps.models.responseCache,
        ticketReader: deps.auditStore,
        ...(deps.toolCallClaims && { toolCallClaims: deps.toolCallClaims }),
      }),
    );
    started.push(
      await startValidator({
        bus,
        config,
        logger: logger.child({ stage: 'validator' }),
        verifierChat: verifierChat(deps.models),
      }),
    );
    started.push(
      await startRouter({
        bus,
        config,
        logger: logger.child({ stage: 'router' }),
        apiKeys,
        // The same store the auditor writes: statuses are served from the trail, as in distributed mode.
        statusStore: deps.auditStore,
        httpPort: deps.routerPort,
        classifierModels: classifierModels(deps.models),
      }),
    );
  } catch (error) {
    await Promise.allSettled(started.reverse().map((app) => app.close()));
    throw error;
  }
  const [auditor, , , , router] = started;
  return {
    routerUrl: router.url!,
    auditorUrl: auditor.url!,
    close: async () => {
      for (const app of [...started].reverse()) await app.close();
    },
  };
}
