import { randomUUID } from 'node:crypto';
import {
  ContextRetrievedEvent,
  DeadLetteredEvent,
  DocumentDeletedEvent,
  DocumentFailedEvent,
  DocumentIndexedEvent,
  DocumentRemovedEvent,
  DocumentSubmittedEvent,
  ModelCallRecordedEvent,
  ToolCallsCompletedEvent,
  ToolCallsRequestedEvent,
  ResponseDraftEvent,
  RegenerationRequestedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  ReviewDecidedEvent,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import { payloadDigest } from './audit-chain';
import type { SqlClient } from './sql-client';

/**
 * Event classes a retention policy sets ages for, and the event types in each. Types in no class
 * (unknown ones included) are kept for good.
 */
export const EVENT_CLASSES = {
  /** What requesters, models and tools wrote: inputs, prompts, outputs, tool rounds, reviews, documents. */
  prompts: [
    RequestSubmittedEvent.type,
    ResponseGeneratedEvent.type,
    RegenerationRequestedEvent.type,
    ReviewRequestedEvent.type,
    DocumentSubmittedEvent.type,
    ToolCallsRequestedEvent.type,
    ToolCallsCompletedEvent.type,
    // Drafts are not recorded (the auditor does not read the stream topic); classed should one be.
    ResponseDraftEvent.type,
  ],
  /** Passages retrieved for a request. */
  context: [ContextRetrievedEvent.type],
  /** How requests ended and what reviewers decided. */
  outcomes: [RequestCompletedEvent.type, RequestFailedEvent.type, ReviewDecidedEvent.type],
  /** Routing decisions, model call usage and index changes: no free text of requesters. */
  operations: [
    RequestRoutedEvent.type,
    ModelCallRecordedEvent.type,
    DocumentIndexedEvent.type,
    DocumentDeletedEvent.type,
    DocumentRemovedEvent.type,
    DocumentFailedEvent.type,
  ],
  /** Dead-letter records, which carry the refused message. */
  'dead-letters': [DeadLetteredEvent.type],
} as const satisfies Record<string, readonly string[]>;

export type EventClass = keyof typeof EVENT_CLASSES;
export const EVENT_CLASS_NAMES = Object.keys(EVENT_CLASSES) as EventClass[];

/** Days to keep payloads per event class; null or absent keeps them for good. */
export type ClassRetention = Partial<Record<EventClass, number | null>>;

/** A retention policy: ages for every tenant, and per-tenant overrides of single classes. */
export interface RetentionPolicy {
  readonly default: ClassRetention;
  readonly tenants?: Readonly<Record<string, ClassRetention>>;
}

/** Prompts and context 90 days, dead letters 90 days, outcomes and operations 7 years (2,557 days). */
export const DEFAULT_RETENTION_POLICY: RetentionPolicy = {
  default: { prompts: 90, context: 90, 'dead-letters': 90, outcomes: 2557, operations: 2557 },
};

/** A retention policy file that does not have the documented shape; the message names the field. */
export class RetentionPolicyError extends Error {
  readonly code = 'invalid_retention_policy';
  constructor(message: string) {
    super(message);
    this.name = 'RetentionPolicyError';
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function classRetention(value: unknown, path: string): ClassRetention {
  if (!isObject(value)) throw new RetentionPolicyError(`${path} must be an object of event class to days`);
  const result: ClassRetention = {};
  for (const [name, days] of Object.entries(value)) {
    if (!(EVENT_CLASS_NAMES as string[]).includes(name)) {
      throw new RetentionPolicyError(
        `${path}.${name} is not an event class: use ${EVENT_CLASS_NAMES.join(', ')}`,
      );
    }
    if (days !== null && !(Number.isInteger(days) && (days as number) >= 1)) {
      throw new RetentionPolicyError(
        `${path}.${name} must be a whole number of days from 1, or null to keep for good`,
      );
    }
    result[name as EventClass] = days as number | null;
  }
  return result;
}

/** Validates a parsed policy file (`{"default": {...}, "tenants": {"acme": {...}}}`). */
export function parseRetentionPolicy(value: unknown): RetentionPolicy {
  if (!isObject(value))
    throw new RetentionPolicyError('the retention policy must be a JSON object with "default"');
  const unknownKeys = Object.keys(value).filter((k) => k !== 'default' && k !== 'tenants');
  if (unknownKeys.length)
    throw new RetentionPolicyError(`unknown policy field(s) ${unknownKeys.join(', ')}: use default, tenants`);
  const tenants = value['tenants'] ?? {};
  if (!isObject(tenants))
    throw new RetentionPolicyError('tenants must be an object of tenant id to class ages');
  return {
    default: classRetention(value['default'], 'default'),
    tenants: Object.fromEntries(
      Object.entries(tenants).map(([t, v]) => [t, classRetention(v, `tenants.${t}`)]),
    ),
  };
}

/** Days to keep a tenant's payloads of a class under a policy; undefined keeps them for good. */
export function retentionDays(
  policy: RetentionPolicy,
  tenantId: string,
  eventClass: EventClass,
): number | undefined {
  const override = policy.tenants?.[tenantId];
  const days =
    override !== undefined && eventClass in override ? override[eventClass] : policy.default[eventClass];
  return days ?? undefined;
}

/** Options of removeExpiredPayloads. */
export interface RetentionOptions {
  /** The time ages are measured at (default now). */
  readonly now?: Date;
  /** Count what would be removed, write nothing. */
  readonly dryRun?: boolean;
  readonly runId?: string;
  /** Rows per transaction (default 500). */
  readonly batchSize?: number;
}

/** A payload the job would not remove because it no longer matches its digest (evidence kept). */
export interface RetentionRefusal {
  readonly tenantId: string;
  readonly chainSeq: string | null;
  readonly eventId: string;
  readonly reason: string;
}

/** What a retention run removed (or, dry, would remove): counts per tenant and class. */
export interface RetentionReport {
  readonly runId: string;
  readonly dryRun: boolean;
  readonly removed: Readonly<Record<string, Partial<Record<EventClass, number>>>>;
  readonly total: number;
  readonly refused: readonly RetentionRefusal[];
}

interface CandidateRow {
  seq: string;
  chain_seq: string | null;
  event_id: string;
  payload: unknown;
  payload_digest: string | null;
}

/**
 * Replaces the payloads older than the policy allows (by recorded_at) with a tombstone
 * `{ removedPayload: { digest, class, runId, removedAt, days } }` and sets payload_removed_at, in
 * transactions that set `llmbus.audit_retention` (the only change the append-only trigger lets
 * through), then records the run in audit_retention_runs. The record hashes cover the payload's
 * digest, not the payload, so `audit verify` still passes. A payload that no longer matches its
 * recorded digest is left in place and reported: removing it would destroy the evidence.
 */
export async function removeExpiredPayloads(
  client: SqlClient,
  policy: RetentionPolicy,
  options: RetentionOptions = {},
): Promise<RetentionReport> {
  const now = options.now ?? new Date();
  const startedAt = new Date();
  const runId = options.runId ?? randomUUID();
  const dryRun = options.dryRun ?? false;
  const batchSize = options.batchSize ?? 500;
  const removed: Record<string, Partial<Record<EventClass, number>>> = {};
  const refused: RetentionRefusal[] = [];
  let total = 0;
  const { rows: tenants } = await client.query<{ tenant_id: string }>(
    'SELECT DISTINCT tenant_id FROM audit_events ORDER BY tenant_id',
  );
  for (const { tenant_id: tenantId } of tenants) {
    for (const eventClass of EVENT_CLASS_NAMES) {
      const days = retentionDays(policy, tenantId, eventClass);
      if (days === undefined) continue;
      const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
      let after = '0';
      for (;;) {
        const { rows } = await client.query<CandidateRow>(
          `SELECT seq::text AS seq, chain_seq::text AS chain_seq, event_id, payload, payload_digest FROM audit_events
           WHERE tenant_id = $1 AND type = ANY($2::text[]) AND payload_removed_at IS NULL
             AND recorded_at < $3::timestamptz AND seq > $4::bigint
           ORDER BY audit_events.seq LIMIT $5`,
          [tenantId, EVENT_CLASSES[eventClass], cutoff, after, batchSize],
        );
        if (rows.length === 0) break;
        after = rows[rows.length - 1].seq;
        const tombstones: { seq: string; tombstone: unknown }[] = [];
        for (const row of rows) {
          const payload =
            typeof row.payload === 'string' ? (JSON.parse(row.payload) as unknown) : row.payload;
          const digest = payloadDigest(payload);
          if (row.payload_digest !== null && digest !== row.payload_digest) {
            refused.push({
              tenantId,
              chainSeq: row.chain_seq,
              eventId: row.event_id,
              reason:
                'the payload no longer matches its recorded digest (altered): kept as evidence, run `audit verify`',
            });
            continue;
          }
          tombstones.push({
            seq: row.seq,
            tombstone: {
              removedPayload: { digest, class: eventClass, runId, removedAt: now.toISOString(), days },
            },
          });
        }
        if (!dryRun && tombstones.length > 0) {
          await client.transaction(async (tx) => {
            await tx.query(`SELECT set_config('llmbus.audit_retention', 'on', true)`);
            await tx.query(
              `UPDATE audit_events AS e SET payload = t.tombstone, payload_removed_at = $2::timestamptz
               FROM jsonb_to_recordset($1::jsonb) AS t(seq bigint, tombstone jsonb)
               WHERE e.seq = t.seq AND e.payload_removed_at IS NULL`,
              [JSON.stringify(tombstones), now.toISOString()],
            );
          });
        }
        const counts = (removed[tenantId] ??= {});
        counts[eventClass] = (counts[eventClass] ?? 0) + tombstones.length;
        total += tombstones.length;
        if (rows.length < batchSize) break;
      }
    }
  }
  if (!dryRun) {
    await client.query(
      `INSERT INTO audit_retention_runs (run_id, started_at, policy, removed) VALUES ($1, $2::timestamptz, $3::jsonb, $4::jsonb)`,
      [runId, startedAt.toISOString(), JSON.stringify(policy), JSON.stringify(removed)],
    );
  }
  return { runId, dryRun, removed, total, refused };
}
