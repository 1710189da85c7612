import type { RequestStatusView } from '@llmbus/audit';
import { openVault, restoreValue, storedEventContext, type SealedPiiVault } from '@llmbus/pii';
import type { RequestStatusSource } from './request-statuses';

/**
 * Statuses as the result topic published them: the auditor stores outcomes masked, so the output
 * and failure of a status are restored from the outcome's sealed mapping (LLMBUS_PII_KEY). Without
 * the key, or when the mapping does not open, the status is served masked rather than not at all.
 */
export function withRestoredPii(
  source: RequestStatusSource,
  key: Buffer | undefined,
  /** LLMBUS_PII_PREVIOUS_KEYS: tried after `key` to open outcomes sealed before a rotation. */
  previousKeys: readonly Buffer[] = [],
): RequestStatusSource {
  return {
    ping: () => source.ping(),
    ...(source.eventById !== undefined && { eventById: source.eventById.bind(source) }),
    ...(source.routingOf !== undefined && { routingOf: source.routingOf.bind(source) }),
    ...(source.onRecorded !== undefined && { onRecorded: source.onRecorded.bind(source) }),
    requestStatus: async (tenantId, requestId) => {
      const view = await source.requestStatus(tenantId, requestId);
      if (view?.sealedOutcome === undefined) return view;
      const { sealedOutcome, ...rest } = view;
      if (key === undefined) return rest;
      try {
        const context = storedEventContext(tenantId, sealedOutcome.source, sealedOutcome.id);
        const vault = openVault(sealedOutcome.vault as SealedPiiVault, [key, ...previousKeys], context);
        const restored: RequestStatusView = {
          ...rest,
          ...(rest.output !== undefined && { output: restoreValue(rest.output, vault) }),
          ...(rest.failure !== undefined && { failure: restoreValue(rest.failure, vault) }),
        };
        return restored;
      } catch {
        return rest;
      }
    },
  };
}
