import { hasRole, type Principal } from '@llmbus/access';
import type { AuditRecord } from '@llmbus/audit';
import type { EventEnvelope } from '@llmbus/contracts';
import {
  CachedPiiDetector,
  createPiiDetector,
  PiiProtection,
  resolvePiiPolicy,
  restoreValue,
  storedEventContext,
  StoredPayloadMasking,
  type PiiActions,
} from '@llmbus/pii';
import type { WorkflowRegistry } from '@llmbus/workflows';

const DEFAULT_AUDIT_ACTIONS = resolvePiiPolicy().audit;

/**
 * What the audit trail keeps of personal data and who sees it: payloads are stored masked per the
 * workflow's audit policy (the platform default when the event names no workflow) with the raw
 * values sealed under LLMBUS_PII_KEY; readers get the masked text unless their key has the
 * `pii-reader` role (admin has every role). Without a key, payloads are stored as received and
 * masked when read.
 */
export class AuditPrivacy {
  private readonly masking: StoredPayloadMasking;

  constructor(
    private readonly workflows: WorkflowRegistry,
    key: Buffer | undefined,
    /** LLMBUS_PII_PREVIOUS_KEYS: open trails sealed under them, seal nothing. */
    previousKeys: readonly Buffer[] = [],
  ) {
    this.masking = new StoredPayloadMasking(
      new PiiProtection(new CachedPiiDetector(createPiiDetector()), key, previousKeys),
    );
  }

  /** The envelope as it is to be recorded. */
  forStorage<T extends object>(event: EventEnvelope<T>): EventEnvelope<Record<string, unknown>> {
    const data = event.data as Record<string, unknown>;
    return {
      ...event,
      data: this.masking.forStorage(data, this.actionsFor(data, event.tenantid), contextOf(event)),
    };
  }

  /** A stored record as `principal` may read it. */
  forReader(record: AuditRecord, principal: Principal): AuditRecord {
    return { ...record, envelope: this.envelopeFor(record.envelope, hasRole(principal, 'pii-reader')) };
  }

  /** The stored envelope with its raw values (for events the platform publishes again, e.g. a decided review). */
  raw(envelope: EventEnvelope<Record<string, unknown>>): EventEnvelope<Record<string, unknown>> {
    return this.envelopeFor(envelope, true);
  }

  /** `value` with the placeholders of a stored envelope's mapping restored (a reviewer's edit of a masked view). */
  restoreFrom<T>(envelope: EventEnvelope<Record<string, unknown>>, value: T): T {
    return restoreValue(value, this.masking.vaultOf(envelope.data, contextOf(envelope)));
  }

  private envelopeFor(
    envelope: EventEnvelope<Record<string, unknown>>,
    raw: boolean,
  ): EventEnvelope<Record<string, unknown>> {
    const data = this.masking.forReader(
      envelope.data,
      this.actionsFor(envelope.data, envelope.tenantid),
      contextOf(envelope),
      raw,
    );
    return { ...envelope, data };
  }

  /** The audit actions of the workflow an event belongs to (its context, or the workflow of a result), for its tenant. */
  actionsFor(data: Readonly<Record<string, unknown>>, tenantId: string): PiiActions {
    const context = data['context'] as { workflow?: unknown } | undefined;
    const ref = (context?.workflow ?? data['workflow']) as { id?: unknown; version?: unknown } | undefined;
    if (typeof ref?.id !== 'string' || typeof ref.version !== 'number') return DEFAULT_AUDIT_ACTIONS;
    try {
      return resolvePiiPolicy(this.workflows.get(ref.id, ref.version).pii, tenantId).audit;
    } catch {
      // A workflow this auditor does not load: the platform default, which masks everything.
      return DEFAULT_AUDIT_ACTIONS;
    }
  }
}

/** Additional data binding a sealed mapping to its event: tenant, source and id identify it. */
function contextOf(envelope: EventEnvelope<object>): string {
  return storedEventContext(envelope.tenantid, envelope.source, envelope.id);
}
