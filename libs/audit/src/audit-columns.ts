import {
  RequestCompletedEvent,
  ResponseGeneratedEvent,
  ReviewRequestedEvent,
  STAGES,
  type EventEnvelope,
} from '@llmbus/contracts';

/** Query columns derived from an envelope, stored next to the full payload. */
export interface ExtractedColumns {
  readonly stage: string | null;
  readonly modelId: string | null;
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
  readonly costUsd: number | null;
  readonly latencyMs: number | null;
}

/**
 * Event types whose usage restates the usage of the generation they carry rather than a new
 * model call; counting them in costs would bill that call twice.
 */
export const RESTATED_USAGE_TYPES: readonly string[] = [
  RequestCompletedEvent.type,
  ReviewRequestedEvent.type,
];

/**
 * Event types whose usage restates a call recorded on its own (ModelCallRecorded) when the event
 * names that call in `callId`. Each model call has one ModelCallRecorded with a unique id, so a call
 * repeated for a redelivered input is counted; its output, whose id derives from the input, is
 * stored once. Such events without `callId` predate the call records and still count.
 */
export const CALL_RESTATING_TYPES: readonly string[] = [ResponseGeneratedEvent.type];

/** Whether an event's usage is counted elsewhere and must stay out of cost totals. */
export function restatesUsage(envelope: Pick<EventEnvelope, 'type' | 'data'>): boolean {
  if (RESTATED_USAGE_TYPES.includes(envelope.type)) return true;
  return (
    CALL_RESTATING_TYPES.includes(envelope.type) &&
    isRecord(envelope.data) &&
    typeof envelope.data['callId'] === 'string'
  );
}

const KNOWN_SOURCES = new Set<string>([...STAGES, 'ingress']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finiteOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The producing stage: the last segment of a platform source such as `/llmbus/router`. */
export function stageOf(source: string): string | null {
  const last = source.split('/').filter(Boolean).pop();
  return last !== undefined && KNOWN_SOURCES.has(last) ? last : null;
}

/**
 * Extracts the columns cost and latency queries group on. Payloads were validated by the bus,
 * but the auditor stores every event type, so each field is checked rather than assumed.
 */
export function extractColumns(envelope: EventEnvelope): ExtractedColumns {
  const usage = isRecord(envelope.data) ? envelope.data['usage'] : undefined;
  const stage = stageOf(envelope.source);
  if (!isRecord(usage) || typeof usage['modelId'] !== 'string') {
    return {
      stage,
      modelId: null,
      promptTokens: null,
      completionTokens: null,
      costUsd: null,
      latencyMs: null,
    };
  }
  return {
    stage,
    modelId: usage['modelId'],
    promptTokens: finiteOrNull(usage['promptTokens']),
    completionTokens: finiteOrNull(usage['completionTokens']),
    costUsd: finiteOrNull(usage['costUsd']),
    latencyMs: finiteOrNull(usage['latencyMs']),
  };
}
