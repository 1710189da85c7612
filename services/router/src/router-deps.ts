import type { ApiKeyRegistry } from '@llmbus/access';
import type { EventBus } from '@llmbus/bus';
import type { PlatformConfig } from '@llmbus/config';
import type { Logger } from '@llmbus/observability';
import type { ClassifierModels, WorkflowRegistry } from '@llmbus/workflows';
import type { RequestStatusSource } from './request-statuses';

/** What the router needs; the caller owns the bus and closes it. */
export interface RouterDeps {
  readonly bus: EventBus;
  readonly config: PlatformConfig;
  readonly logger: Logger;
  /** Overrides config.apiKeys (the embedded runner passes the key it generated). */
  readonly apiKeys?: ApiKeyRegistry;
  /** Defaults to the folder config.workflowsDir (LLMBUS_WORKFLOWS_DIR), else the repository's `workflows/`. */
  readonly workflows?: WorkflowRegistry;
  /**
   * Where `GET /v1/requests/:id` reads statuses: the audit store the auditor writes (read only;
   * the caller opens and closes it). The router starts while it does not answer.
   */
  readonly statusStore: RequestStatusSource;
  /**
   * Models of the workflows' classifier steps (`classify:`): embeddings for `knn`, chat for
   * `model` (see classifierModels). Required when a loaded workflow classifies: the router then
   * refuses to start without them.
   */
  readonly classifierModels?: ClassifierModels;
  /** Overrides config.http.port (0 = any free port). */
  readonly httpPort?: number;
}
