import type { ApiKeyRegistry } from '@llmbus/access';
import type { EventBus } from '@llmbus/bus';
import type { PlatformConfig } from '@llmbus/config';
import type { Logger } from '@llmbus/observability';
import type { WorkflowRegistry } from '@llmbus/workflows';
import type { RequestStatusStore } from './request-status.store';

/** What the router needs; the caller owns the bus and closes it. */
export interface RouterDeps {
  readonly bus: EventBus;
  readonly config: PlatformConfig;
  readonly logger: Logger;
  /** Overrides config.apiKeys (the embedded runner passes the key it generated). */
  readonly apiKeys?: ApiKeyRegistry;
  /** Defaults to the folder config.workflowsDir (LLMBUS_WORKFLOWS_DIR), else the repository's `workflows/`. */
  readonly workflows?: WorkflowRegistry;
  /** Defaults to an in-memory store of the most recent 10,000 requests. */
  readonly statuses?: RequestStatusStore;
  /** Overrides config.http.port (0 = any free port). */
  readonly httpPort?: number;
}
