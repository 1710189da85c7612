import type { ApiKeyRegistry } from '@llmbus/access';
import type { AuditStore } from '@llmbus/audit';
import type { EventBus } from '@llmbus/bus';
import type { PlatformConfig } from '@llmbus/config';
import type { Logger } from '@llmbus/observability';
import type { WorkflowRegistry } from '@llmbus/workflows';

/** What the auditor needs; the caller owns the store and the bus and closes them. */
export interface AuditorDeps {
  readonly bus: EventBus;
  readonly config: PlatformConfig;
  readonly logger: Logger;
  /** Overrides config.apiKeys (the embedded runner passes the key it generated). */
  readonly apiKeys?: ApiKeyRegistry;
  readonly store: AuditStore;
  /** Workflows whose audit PII policy applies; defaults to config.workflowsDir, else `workflows/`. */
  readonly workflows?: WorkflowRegistry;
}

/** DI token of the AuditStore. */
export const AUDIT_STORE = Symbol('AUDIT_STORE');
