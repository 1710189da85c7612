import type { AuditRecord, UnfinishedRequest } from '@llmbus/audit';
import { outgoing, type EventBus } from '@llmbus/bus';
import {
  attributesToHeaders,
  ContextRetrievedEvent,
  eventByType,
  RegenerationRequestedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  ReviewDecidedEvent,
  ToolCallsCompletedEvent,
  ToolCallsRequestedEvent,
  validateAttributes,
  validatePayload,
  type EventEnvelope,
  type Stage,
} from '@llmbus/contracts';
import { int, type Env } from '@llmbus/config';
import type { Logger } from '@llmbus/observability';
import {
  PII_ENTITY_TYPES,
  PiiVaultError,
  redactionMarker,
  SEALED_VAULT_FIELD,
  type PiiActions,
} from '@llmbus/pii';
import { DEFAULT_TOOL_CLAIM_TTL_MS } from '@llmbus/tools';

/**
 * The events on a request's path and the stage that takes each up (the generator also takes up a
 * tool-approval decision, which the validator ignores): the events a request can be resumed from.
 */
export const RESUMABLE: Readonly<Record<string, Stage>> = {
  [RequestSubmittedEvent.type]: 'router',
  [RequestRoutedEvent.type]: 'retriever',
  [ContextRetrievedEvent.type]: 'generator',
  [RegenerationRequestedEvent.type]: 'generator',
  [ToolCallsRequestedEvent.type]: 'generator',
  [ToolCallsCompletedEvent.type]: 'generator',
  [ResponseGeneratedEvent.type]: 'validator',
  [ReviewDecidedEvent.type]: 'validator',
};

/** The event types to ask SqlAuditStore.unfinishedRequests for as `pathTypes`. */
export const RESUMABLE_TYPES: readonly string[] = Object.keys(RESUMABLE);

/** Most requests one start resumes or fails; more are left for the next start (each start takes its share). */
export const INTERRUPTED_LIMIT = 10_000;

/**
 * How long ago (milliseconds since its last event on the request's path was recorded) an
 * interrupted request may have stopped and still be resumed by default (LLMBUS_RESUME_MAX_AGE_MS):
 * 24 hours. One stopped longer ago is failed instead: its requester has long stopped waiting, and
 * what it acted on (documents, tool state) may have moved on. Measured from the last step, not the
 * submission, so that a request decided after a long human review is still resumed.
 */
export const DEFAULT_RESUME_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * Largest LLMBUS_RESUME_MAX_AGE_MS accepted: 6 days, a day less than an execution claim of a
 * side-effecting tool call is kept (DEFAULT_TOOL_CLAIM_TTL_MS, 7 days). A request resumed later
 * than its claims live would find the claim of a `write` or `high` call its stopped run started
 * expired, take it again and run the call a second time.
 */
export const MAX_RESUME_MAX_AGE_MS = DEFAULT_TOOL_CLAIM_TTL_MS - 24 * 60 * 60 * 1000;

/**
 * LLMBUS_RESUME_MAX_AGE_MS in milliseconds: DEFAULT_RESUME_MAX_AGE_MS when unset, else an integer
 * from 0 (nothing is resumed) to MAX_RESUME_MAX_AGE_MS. Throws ConfigError naming the variable.
 */
export function resumeMaxAgeMs(env: Env): number {
  return int(env, 'LLMBUS_RESUME_MAX_AGE_MS', DEFAULT_RESUME_MAX_AGE_MS, 0, MAX_RESUME_MAX_AGE_MS);
}

/** What the next start does with one interrupted request (see resumeDecision). */
export type ResumeDecision =
  | {
      readonly action: 'resume';
      /** The recorded envelope to publish again, as it went on the bus (PII restored). */
      readonly envelope: EventEnvelope<object>;
      /** The stage that takes it up. */
      readonly stage: Stage;
    }
  | {
      /** Neither resumed nor failed: left unfinished for a later start (see ResumeOptions.trailKeyProblem). */
      readonly action: 'leave';
      /** Why (no PII). */
      readonly reason: string;
    }
  | {
      readonly action: 'fail';
      /** Why it cannot be resumed (no PII: types, ids, times, contract errors). */
      readonly reason: string;
      /** The event its RequestFailed is caused by (its last recorded event), so the failure's id is stable. */
      readonly cause: EventEnvelope;
      /** The stage named by the failure: the one that would have taken up its last event. */
      readonly stage: Stage;
    };

/** What resumeDecision needs besides the request. */
export interface ResumeOptions {
  /** Now, in epoch milliseconds. */
  readonly now: number;
  /** See DEFAULT_RESUME_MAX_AGE_MS. */
  readonly maxAgeMs: number;
  /**
   * The stored envelope as it was published (the audit trail keeps payloads with their PII masked
   * and sealed: AuditPrivacy.raw). Throws when it cannot (e.g. sealed under another key).
   */
  readonly raw: (envelope: EventEnvelope<Record<string, unknown>>) => EventEnvelope<Record<string, unknown>>;
  /**
   * Whether this start was warned that its PII keys do not open the trail (trailKeyProblem: a key
   * set before and unset since, a key file not restored with the data). Then a request whose
   * sealed values do not open (PiiVaultError `pii_key_mismatch`) is left for a start with the right
   * key instead of failed for good; otherwise (the keys open the trail, only this record is sealed
   * under a key given up) it is failed.
   */
  readonly trailKeyProblem?: boolean;
}

/**
 * Decides whether an interrupted request is resumed, and from which event: its last recorded event
 * on the request's path (`lastPathEvent`, see RESUMABLE), published again unchanged, so that the
 * stage that takes it up goes on as it does with an event Kafka delivers again. It is failed
 * instead when that event cannot be: none on the path, recorded more than `maxAgeMs` ago, only a sanitised
 * copy or a retention tombstone recorded, PII that cannot be restored, or an envelope or payload
 * the current contract refuses. Pure except for `raw`.
 */
export function resumeDecision(request: UnfinishedRequest, options: ResumeOptions): ResumeDecision {
  const cause = request.lastEvent.envelope;
  const failing = (reason: string): ResumeDecision => ({
    action: 'fail',
    reason,
    cause,
    stage: RESUMABLE[request.lastPathEvent?.envelope.type ?? cause.type] ?? 'router',
  });
  const record: AuditRecord | undefined = request.lastPathEvent;
  if (!record) {
    return failing(
      `no event on the request's path was recorded (last recorded event: ${cause.type}), so there is nothing to resume from`,
    );
  }
  const { type, id } = record.envelope;
  const what = `its last event on the request's path (${type} ${id})`;
  // Measured from its last step, not its submission: a request that waited days for a reviewer
  // and was decided just before the stop is resumed; one stopped longer ago than the bound is not.
  const age = options.now - Date.parse(record.envelope.time);
  if (!(age <= options.maxAgeMs)) {
    return failing(
      `${what} was recorded at ${record.envelope.time}, more than LLMBUS_RESUME_MAX_AGE_MS (${options.maxAgeMs} ms) ago, so it is not resumed (submitted at ${request.submittedAt})`,
    );
  }
  const definition = eventByType(type);
  const stage = RESUMABLE[type];
  if (!definition || !stage) return failing(`${what} is of a type that cannot be resumed from`);
  if (record.payloadRemovedAt)
    return failing(`${what} had its payload removed by retention at ${record.payloadRemovedAt}`);
  if (record.sanitisedReason)
    return failing(`${what} was recorded only as a sanitised copy, not as published`);
  let raw: EventEnvelope<Record<string, unknown>>;
  try {
    raw = options.raw(record.envelope);
  } catch (error) {
    const unopened = error instanceof PiiVaultError && error.code === 'pii_key_mismatch';
    // The vault's own message speaks of the generator and the validator; the requester reads this one.
    const why = unopened
      ? 'sealed under a PII key neither LLMBUS_PII_KEY nor LLMBUS_PII_PREVIOUS_KEYS holds'
      : error instanceof Error
        ? error.message
        : String(error);
    const reason = `${what} could not have its personal data restored (${why})`;
    if (options.trailKeyProblem && unopened) {
      return { action: 'leave', reason: `${reason}; left for a start with the key it was sealed under` };
    }
    return failing(reason);
  }
  const { data, ...plainAttributes } = raw;
  const attributes = validateAttributes(plainAttributes as unknown as Record<string, unknown>);
  if (!attributes.ok)
    return failing(`${what} has an envelope this version refuses: ${attributes.errors.join('; ')}`);
  if (attributes.value.schemaversion !== definition.schemaVersion) {
    return failing(
      `${what} is of schema version ${attributes.value.schemaversion}; this version reads ${definition.schemaVersion}`,
    );
  }
  const payload = validatePayload(definition, data);
  if (!payload.ok) {
    return failing(`${what} has a payload the current contract refuses: ${payload.errors.join('; ')}`);
  }
  return { action: 'resume', envelope: { ...attributes.value, data: payload.value }, stage };
}

/** What resumableRaw reads the trail with (AuditPrivacy of the auditor does both). */
export interface TrailPrivacy {
  /** The stored envelope with its raw values restored from its sealed mapping. */
  raw(envelope: EventEnvelope<Record<string, unknown>>): EventEnvelope<Record<string, unknown>>;
  /** The audit actions a stored payload was masked with (its workflow's policy for the tenant). */
  actionsFor(data: Readonly<Record<string, unknown>>, tenantId: string): PiiActions;
}

/**
 * ResumeOptions.raw for a trail read through `privacy`: the stored envelope as it was published.
 * Throws when the workflow's audit policy redacted a type for good and the stored payload holds
 * its marker (`[PAYMENT_CARD redacted]`): the trail keeps no raw value of it, so the event
 * recorded is not the one published, and resuming from it would run the request on other text
 * than the requester sent.
 */
export function resumableRaw(privacy: TrailPrivacy): ResumeOptions['raw'] {
  return (envelope) => {
    const actions = privacy.actionsFor(envelope.data, envelope.tenantid);
    const redacting = PII_ENTITY_TYPES.filter((type) => actions[type] === 'redact');
    if (redacting.length > 0) {
      const { [SEALED_VAULT_FIELD]: _sealed, ...data } = envelope.data;
      const text = JSON.stringify(data);
      const redacted = redacting.filter((type) => text.includes(redactionMarker(type)));
      if (redacted.length > 0) {
        throw new Error(
          `the workflow's audit policy redacted ${redacted.join(', ')} for good, so the trail keeps no raw value of ` +
            'it to publish again',
        );
      }
    }
    return privacy.raw(envelope);
  };
}

/** How many interrupted requests a start resumed and failed. */
export interface InterruptedOutcome {
  readonly resumed: number;
  readonly failed: number;
  /** Left unfinished for a later start (a start whose keys do not open the trail). */
  readonly left: number;
}

/**
 * Takes up the requests an earlier run of the embedded process accepted but did not finish. Its
 * bus lived in the process, so nothing else takes them up again. Each is resumed when it can be
 * (resumeDecision): its last event on the request's path is published again on its topic with its
 * recorded id and envelope, which the stages treat as a redelivery (output ids derive from it, the
 * auditor keeps each event id once, a side-effecting tool call runs only after taking its claim).
 * Otherwise it gets a RequestFailed (`processing_error`, saying why and to submit it again)
 * caused by its last recorded event, so its id is the same on every start until the auditor has
 * recorded it. `unfinished` (asked with RESUMABLE_TYPES) must be read before the ingress accepts
 * anything (a request of this run is not interrupted); the stages must be running. Logs one line
 * per request (tenant, request and event ids only).
 */
export async function takeUpInterruptedRequests(
  bus: EventBus,
  unfinished: readonly UnfinishedRequest[],
  options: ResumeOptions,
  logger: Logger,
): Promise<InterruptedOutcome> {
  let resumed = 0;
  let failed = 0;
  let left = 0;
  for (const request of unfinished) {
    const { requestId, tenantId } = request;
    const decision = resumeDecision(request, options);
    if (decision.action === 'resume') {
      const { data, ...attributes } = decision.envelope;
      const definition = eventByType(attributes.type)!;
      await bus.transport.produce([
        {
          topic: bus.physicalTopic(definition.topic.name),
          key: definition.key(data),
          headers: attributesToHeaders(attributes),
          value: JSON.stringify(data),
        },
      ]);
      resumed += 1;
      logger.info(
        {
          tenant: tenantId,
          requestId,
          eventId: attributes.id,
          eventType: attributes.type,
          stage: decision.stage,
        },
        'interrupted request resumed from its last recorded event',
      );
      continue;
    }
    if (decision.action === 'leave') {
      left += 1;
      logger.warn(
        { tenant: tenantId, requestId, eventId: request.lastPathEvent?.envelope.id },
        'interrupted request left unfinished: its personal data is sealed under a key this start does not hold',
      );
      continue;
    }
    await bus.publish(
      [
        outgoing(RequestFailedEvent, {
          requestId,
          code: 'processing_error',
          message: `llmbus stopped before this request finished and it cannot be resumed: ${cut(decision.reason)}; submit it again`,
          stage: decision.stage,
          details: [`last recorded event: ${decision.cause.type} at ${decision.cause.time}`],
        }),
      ],
      { envelope: decision.cause, stage: decision.stage },
    );
    failed += 1;
    logger.warn(
      { tenant: tenantId, requestId, eventId: decision.cause.id, eventType: decision.cause.type },
      'interrupted request could not be resumed: failed it (submit it again)',
    );
  }
  return { resumed, failed, left };
}

/** A reason short enough for a RequestFailed message (contract errors can be many). */
function cut(reason: string, max = 1500): string {
  return reason.length <= max ? reason : `${reason.slice(0, max - 1)}…`;
}
