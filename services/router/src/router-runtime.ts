import type { EventBus } from '@llmbus/bus';
import type { Logger } from '@llmbus/observability';
import type { WorkflowRegistry } from '@llmbus/workflows';
import type { RequestStatuses } from './request-statuses';

/** The router's collaborators, injected into its controllers by class token. */
export class RouterRuntime {
  constructor(
    readonly bus: EventBus,
    readonly workflows: WorkflowRegistry,
    readonly statuses: RequestStatuses,
    readonly logger: Logger,
  ) {}
}
