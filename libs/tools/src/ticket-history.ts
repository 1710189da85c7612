import {
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
} from '@llmbus/contracts';
import type { BuiltinTool } from './builtin-tools';
import type { ToolCallContext } from './tool-definition';

/** Statuses a past request can have in the audit store's request list. */
export const TICKET_STATUSES = ['in_progress', 'awaiting_review', 'completed', 'failed'] as const;
type TicketStatus = (typeof TICKET_STATUSES)[number];

/**
 * The part of the audit store ticket_history reads (`AuditStore` from `@llmbus/audit` fits it):
 * every read takes the tenant, so nothing outside it can be seen.
 */
export interface TicketTrailReader {
  listRequests(
    tenantId: string,
    limit: number,
    cursor?: string,
  ): Promise<{
    readonly requests: readonly {
      readonly requestId: string;
      readonly status: TicketStatus;
      readonly firstEventAt: string;
      readonly lastEventAt: string;
    }[];
    readonly nextCursor?: string;
  }>;
  trail(
    tenantId: string,
    requestId: string,
  ): Promise<
    readonly {
      readonly envelope: { readonly type: string; readonly data: Readonly<Record<string, unknown>> };
    }[]
  >;
}

/** Bounds on one call: how many requests are listed and how many trails are read. */
export interface TicketHistoryLimits {
  /** Requests looked at, newest first (default 200). */
  readonly maxScanned: number;
  /** Trails read to match and describe requests (default 40): each is one indexed query. */
  readonly maxTrails: number;
  /** Characters kept of a request's input and of its outcome (default 400 each). */
  readonly maxExcerptChars: number;
}

/** Options of the ticket_history tool. */
export interface TicketHistoryOptions {
  readonly reader: TicketTrailReader;
  readonly limits?: Partial<TicketHistoryLimits>;
  /**
   * How a stored payload is shown (default: as stored, without its sealed PII mapping). The stage
   * passes its audit reader's masking so the model sees what a reader without `pii-reader` sees.
   */
  readonly showPayload?: (payload: Readonly<Record<string, unknown>>) => Readonly<Record<string, unknown>>;
}

const DEFAULT_LIMITS: TicketHistoryLimits = { maxScanned: 200, maxTrails: 40, maxExcerptChars: 400 };

/** Arguments schema of `ticket_history`; the tenant is never an argument. */
export const TICKET_HISTORY_ARGUMENTS = {
  type: 'object',
  additionalProperties: false,
  properties: {
    query: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      description:
        'case-insensitive text the request input or outcome must contain, e.g. a service or alert name',
    },
    status: { enum: [...TICKET_STATUSES], description: 'only requests with this status' },
    since: {
      type: 'string',
      format: 'date-time',
      description: 'only requests submitted at or after this time',
    },
    limit: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
  },
} as const;

interface TicketQuery {
  readonly query?: string;
  readonly status?: TicketStatus;
  readonly since?: string;
  readonly limit?: number;
}

/** One past request as the tool shows it. */
export interface TicketSummary {
  readonly requestId: string;
  readonly status: TicketStatus;
  readonly submittedAt: string;
  readonly updatedAt: string;
  readonly eventType?: string;
  readonly workflow?: string;
  /** The request's input as JSON, cut to `maxExcerptChars`. */
  readonly input?: string;
  /** The accepted output (completed) or the failure (failed) as JSON, cut to `maxExcerptChars`. */
  readonly outcome?: string;
}

/** What ticket_history answers: matching requests, newest first, and how far it looked. */
export interface TicketHistoryAnswer {
  readonly tickets: readonly TicketSummary[];
  readonly scanned: number;
  /** True when the scan stopped at a bound before the tenant's oldest request. */
  readonly incomplete: boolean;
}

/** A ticket_history call made without a tenant in its context: refused, never answered unscoped. */
export class MissingTenantError extends Error {
  override readonly name = 'MissingTenantError';
  constructor() {
    super('ticket_history needs the request tenant in the call context; none was given');
  }
}

/**
 * Past requests of `context.tenant` from the audit store, newest first, matching every given
 * filter. Only the tenant of the call context is read: the arguments cannot name another.
 * Throws MissingTenantError without a context.
 */
export async function ticketHistory(
  options: TicketHistoryOptions,
  query: TicketQuery,
  signal: AbortSignal,
  context: ToolCallContext | undefined,
): Promise<TicketHistoryAnswer> {
  const tenant = context?.tenant;
  if (tenant === undefined || tenant === '') throw new MissingTenantError();
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const limit = query.limit ?? 5;
  const since = query.since !== undefined ? Date.parse(query.since) : Number.NEGATIVE_INFINITY;
  const needle = query.query?.toLowerCase();
  const show = options.showPayload ?? withoutSealedMapping;
  const tickets: TicketSummary[] = [];
  let scanned = 0;
  let trails = 0;
  let cursor: string | undefined;
  do {
    signal.throwIfAborted();
    const page = await options.reader.listRequests(tenant, Math.min(50, limits.maxScanned - scanned), cursor);
    cursor = page.nextCursor;
    for (const request of page.requests) {
      scanned += 1;
      // Listed in recording order, newest first; event times need not follow it exactly.
      if (Date.parse(request.firstEventAt) < since) continue;
      if (query.status !== undefined && request.status !== query.status) continue;
      if (trails >= limits.maxTrails) return { tickets, scanned, incomplete: true };
      trails += 1;
      signal.throwIfAborted();
      const trail = await options.reader.trail(tenant, request.requestId);
      // Other trails (document ingestion) are not requests someone made.
      if (!trail.some((r) => r.envelope.type === RequestSubmittedEvent.type)) continue;
      const ticket = summarise(request, trail, show, limits.maxExcerptChars);
      if (needle !== undefined && !matches(ticket, needle, trail, show)) continue;
      tickets.push(ticket);
      if (tickets.length >= limit) return { tickets, scanned, incomplete: cursor !== undefined };
    }
  } while (cursor !== undefined && scanned < limits.maxScanned);
  return { tickets, scanned, incomplete: cursor !== undefined };
}

type Trail = Awaited<ReturnType<TicketTrailReader['trail']>>;
type Shown = (payload: Readonly<Record<string, unknown>>) => Readonly<Record<string, unknown>>;

function summarise(
  request: Awaited<ReturnType<TicketTrailReader['listRequests']>>['requests'][number],
  trail: Trail,
  show: Shown,
  maxChars: number,
): TicketSummary {
  const submitted = find(trail, RequestSubmittedEvent.type, show);
  const routed = find(trail, RequestRoutedEvent.type, show);
  const completed = find(trail, RequestCompletedEvent.type, show);
  const failed = find(trail, RequestFailedEvent.type, show);
  const workflow = (completed?.['workflow'] ??
    (routed?.['context'] as Record<string, unknown> | undefined)?.['workflow']) as
    { id?: unknown; version?: unknown } | undefined;
  const outcome = completed
    ? { output: completed['output'], acceptedBy: completed['acceptedBy'] }
    : failed
      ? { failure: failed['code'], message: failed['message'] }
      : undefined;
  return {
    requestId: request.requestId,
    status: request.status,
    submittedAt: request.firstEventAt,
    updatedAt: request.lastEventAt,
    ...(typeof submitted?.['eventType'] === 'string' ? { eventType: submitted['eventType'] } : {}),
    ...(workflow?.id !== undefined
      ? { workflow: `${String(workflow.id)}.v${String(workflow.version)}` }
      : {}),
    ...(submitted?.['input'] !== undefined ? { input: excerpt(submitted['input'], maxChars) } : {}),
    ...(outcome ? { outcome: excerpt(outcome, maxChars) } : {}),
  };
}

function matches(ticket: TicketSummary, needle: string, trail: Trail, show: Shown): boolean {
  // Matched on the full input and outcome, not the excerpts, so a long input still matches.
  const texts = [
    JSON.stringify(find(trail, RequestSubmittedEvent.type, show)?.['input'] ?? ''),
    JSON.stringify(find(trail, RequestCompletedEvent.type, show)?.['output'] ?? ''),
    ticket.outcome ?? '',
    ticket.eventType ?? '',
  ];
  return texts.some((text) => text.toLowerCase().includes(needle));
}

function find(trail: Trail, type: string, show: Shown): Readonly<Record<string, unknown>> | undefined {
  const record = trail.find((r) => r.envelope.type === type);
  return record ? show(record.envelope.data) : undefined;
}

function excerpt(value: unknown, maxChars: number): string {
  const text = JSON.stringify(value) ?? '';
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}…`;
}

function withoutSealedMapping(payload: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const { _piiVault: _sealed, ...rest } = payload;
  return rest;
}

/** The `ticket_history` built-in tool over the audit store, scoped to the call's tenant. */
export function ticketHistoryTool(options: TicketHistoryOptions): BuiltinTool {
  return {
    name: 'ticket_history',
    description:
      'Past requests (tickets, alerts) of this tenant from the audit trail, newest first: status, input and outcome. Filter by text, status and time.',
    argumentsSchema: TICKET_HISTORY_ARGUMENTS,
    run: (args, signal, context) => ticketHistory(options, args as TicketQuery, signal, context),
  };
}
