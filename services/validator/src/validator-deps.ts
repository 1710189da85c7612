import type { ApiKeyRegistry } from '@llmbus/access';
import type { EventBus } from '@llmbus/bus';
import type { PlatformConfig } from '@llmbus/config';
import type { Logger } from '@llmbus/observability';
import type { VerifierChat, WorkflowRegistry } from '@llmbus/workflows';

/** What the validator needs; the caller owns the bus and closes it. */
export interface ValidatorDeps {
  readonly bus: EventBus;
  readonly config: PlatformConfig;
  readonly logger: Logger;
  /** Unused: the validator serves no HTTP. Accepted so every stage takes the same deps. */
  readonly apiKeys?: ApiKeyRegistry;
  /** Defaults to the folder config.workflowsDir (LLMBUS_WORKFLOWS_DIR), else the repository's `workflows/`. */
  readonly workflows?: WorkflowRegistry;
  /**
   * The verifier model of workflows with `verify.model` (see verifierChat); required when one is
   * loaded: the validator then refuses to start without it.
   */
  readonly verifierChat?: VerifierChat;
}
