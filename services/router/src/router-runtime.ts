import type { TrustedSources } from '@llmbus/access';
import type { EventBus } from '@llmbus/bus';
import type { Logger } from '@llmbus/observability';
import type { RequestClassifier, WorkflowRegistry } from '@llmbus/workflows';
import { DraftHub } from './draft-hub';
import type { RequestStatuses } from './request-statuses';

/** The router's collaborators, injected into its controllers by class token. */
export class RouterRuntime {
  constructor(
    readonly bus: EventBus,
    readonly workflows: WorkflowRegistry,
    readonly statuses: RequestStatuses,
    readonly logger: Logger,
    /** Runs the workflows' classifier steps (example vectors cached per process). */
    readonly classifier: RequestClassifier,
    /** Which CloudEvents source may assert which tenants; undefined accepts every source. */
    readonly trustedSources?: TrustedSources,
    /** Live drafts and outcomes for the stream endpoint (started by startRouter). */
    readonly drafts: DraftHub = new DraftHub(),
  ) {}
}
