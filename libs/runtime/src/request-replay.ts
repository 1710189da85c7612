import type { AuditRecord } from '@llmbus/audit';
import {
  ContextRetrievedEvent,
  RegenerationRequestedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  ResponseGeneratedEvent,
  ReviewRequestedEvent,
  type ModelUsage,
  type Passage,
  type RequestContext,
  type ResponseGenerated,
} from '@llmbus/contracts';

/** Why a request cannot be replayed; the message says what to check. */
export class ReplayError extends Error {
  constructor(
    readonly code: 'unknown_request' | 'not_replayable',
    message: string,
  ) {
    super(message);
    this.name = 'ReplayError';
  }
}

/** The validator's decision on one generation, as recorded or as replayed. */
export interface ReplayDecision {
  /** completed (accepted), retry (a stricter regeneration), review (a human), failed. */
  readonly outcome: 'completed' | 'retry' | 'review' | 'failed';
  readonly output?: Readonly<Record<string, unknown>>;
  readonly violations: readonly string[];
  /** Why a human or a failure (review reason, failure message). */
  readonly reason?: string;
  /** Evidence-based confidence from 0 to 1, when the validator assessed it. */
  readonly confidence?: number;
}

/** What a replay starts from: the request as the retriever handed it to the generator. */
export interface ReplaySource {
  readonly requestId: string;
  readonly tenantId: string;
  readonly context: RequestContext;
  readonly input: Record<string, unknown>;
  readonly passages: Passage[];
  /** The first generation recorded for the request, and the validator's decision on it. */
  readonly recorded: { readonly generated?: ResponseGenerated; readonly decision?: ReplayDecision };
}

/** One side of the comparison. */
export interface ReplaySide {
  readonly workflow: string;
  readonly prompt?: string;
  readonly model?: string;
  readonly text?: string;
  readonly output?: Readonly<Record<string, unknown>>;
  readonly decision?: ReplayDecision;
  readonly usage?: ModelUsage;
}

/** Recorded and replayed side by side, with the output fields whose values differ. */
export interface ReplayReport {
  readonly requestId: string;
  readonly tenantId: string;
  readonly recorded: ReplaySide;
  readonly replayed: ReplaySide;
  /** Top-level output fields that differ ('(output)' when one side has no parsed output). */
  readonly outputDifferences: readonly string[];
  readonly outcomeChanged: boolean;
}

/** What the replay runs: the generator's generation and the validator's decision, never publishing. */
export interface ReplayPorts {
  /** One generation (attempt 1) of the request as `context` names it (workflow version overridden). */
  generate(source: Omit<ReplaySource, 'recorded'>): Promise<ResponseGenerated>;
  /** The events the validator would publish for a generation (only returned, never published). */
  validate(generated: ResponseGenerated, tenantId: string): readonly ReplayedEvent[];
}

/** An event a port returned instead of publishing it: its CloudEvents type and payload. */
export interface ReplayedEvent {
  readonly type: string;
  readonly payload: object;
}

/** What the replay changes: another workflow (and so prompt) version; the model is the generate port's business. */
export interface ReplayOverrides {
  readonly workflowVersion?: number;
}

const DECISION_TYPES: ReadonlySet<string> = new Set([
  RequestCompletedEvent.type,
  RegenerationRequestedEvent.type,
  ReviewRequestedEvent.type,
  RequestFailedEvent.type,
]);

/**
 * The replay's starting point from a request's trail (event-time order): the recorded
 * ContextRetrieved (else the first ResponseGenerated, which carries the same input and passages),
 * the first generation and the validator's decision on it. Throws ReplayError when the trail is
 * empty or retention removed the payloads a replay needs.
 */
export function replaySourceFrom(requestId: string, trail: readonly AuditRecord[]): ReplaySource {
  if (trail.length === 0)
    throw new ReplayError(
      'unknown_request',
      `no recorded events for request ${requestId} (check the id and the tenant)`,
    );
  const generatedIndex = trail.findIndex(
    (r) => r.envelope.type === ResponseGeneratedEvent.type && r.envelope.data['attempt'] === 1,
  );
  const start =
    trail.find((r) => r.envelope.type === ContextRetrievedEvent.type) ??
    (generatedIndex >= 0 ? trail[generatedIndex] : undefined);
  if (start === undefined)
    throw new ReplayError(
      'not_replayable',
      `request ${requestId} never reached generation (no ContextRetrieved or ResponseGenerated recorded): nothing to replay`,
    );
  if (start.payloadRemovedAt !== undefined)
    throw new ReplayError(
      'not_replayable',
      `the input and passages of request ${requestId} were removed by retention on ${start.payloadRemovedAt}: it can no longer be replayed`,
    );
  const data = start.envelope.data as unknown as Pick<ReplaySource, 'context' | 'input' | 'passages'>;
  const generatedRecord = generatedIndex >= 0 ? trail[generatedIndex] : undefined;
  const generated =
    generatedRecord && generatedRecord.payloadRemovedAt === undefined
      ? (generatedRecord.envelope.data as unknown as ResponseGenerated)
      : undefined;
  const decisionRecord = generatedRecord
    ? (trail.find(
        (r) => DECISION_TYPES.has(r.envelope.type) && r.envelope.causationid === generatedRecord.envelope.id,
      ) ?? trail.slice(generatedIndex + 1).find((r) => DECISION_TYPES.has(r.envelope.type)))
    : undefined;
  return {
    requestId,
    tenantId: start.envelope.tenantid,
    context: data.context,
    input: data.input,
    passages: data.passages,
    recorded: {
      generated,
      decision:
        decisionRecord && decisionRecord.payloadRemovedAt === undefined
          ? decisionOf({ type: decisionRecord.envelope.type, payload: decisionRecord.envelope.data })
          : undefined,
    },
  };
}

/**
 * Re-runs generation and validation of a recorded request with its recorded input and passages,
 * on the recorded workflow version or `overrides.workflowVersion`. Publishes nothing: the ports
 * return what the stages would have published.
 */
export async function replayRequest(
  source: ReplaySource,
  ports: ReplayPorts,
  overrides: ReplayOverrides = {},
): Promise<ReplayReport> {
  const workflow = {
    ...source.context.workflow,
    version: overrides.workflowVersion ?? source.context.workflow.version,
  };
  const context = { ...source.context, workflow };
  const generated = await ports.generate({ ...source, context });
  const events = ports.validate(generated, source.tenantId);
  const decision = events.map(decisionOf).find((d) => d !== undefined);
  const recordedGeneration = source.recorded.generated;
  const recorded: ReplaySide = {
    workflow: refText(source.context.workflow),
    prompt: recordedGeneration && refText(recordedGeneration.prompt),
    model: recordedGeneration?.usage.modelId,
    text: recordedGeneration?.text,
    output: recordedGeneration?.output,
    decision: source.recorded.decision,
    usage: recordedGeneration?.usage,
  };
  const replayed: ReplaySide = {
    workflow: refText(workflow),
    prompt: refText(generated.prompt),
    model: generated.usage.modelId,
    text: generated.text,
    output: generated.output,
    decision,
    usage: generated.usage,
  };
  return {
    requestId: source.requestId,
    tenantId: source.tenantId,
    recorded,
    replayed,
    outputDifferences: outputDifferences(recorded.output, replayed.output),
    outcomeChanged: recorded.decision?.outcome !== decision?.outcome,
  };
}

/** The validator's decision an event states; undefined for events that are no decision. */
export function decisionOf(event: ReplayedEvent): ReplayDecision | undefined {
  const data = event.payload as Record<string, unknown>;
  const confidence = (data['assessment'] as { confidence?: number } | undefined)?.confidence;
  const violations = Array.isArray(data['violations']) ? (data['violations'] as string[]) : [];
  switch (event.type) {
    case RequestCompletedEvent.type:
      return {
        outcome: 'completed',
        output: data['output'] as Record<string, unknown>,
        violations: [],
        confidence,
      };
    case RegenerationRequestedEvent.type:
      return { outcome: 'retry', violations, confidence, reason: data['stricterInstruction'] as string };
    case ReviewRequestedEvent.type:
      return {
        outcome: 'review',
        output: data['output'] as Record<string, unknown> | undefined,
        violations,
        reason: data['reason'] as string,
        confidence,
      };
    case RequestFailedEvent.type:
      return {
        outcome: 'failed',
        violations: Array.isArray(data['details']) ? (data['details'] as string[]) : [],
        reason: `${String(data['code'])}: ${String(data['message'])}`,
      };
    default:
      return undefined;
  }
}

function refText(ref: { id: string; version: number }): string {
  return `${ref.id}@${ref.version}`;
}

function outputDifferences(
  recorded: Readonly<Record<string, unknown>> | undefined,
  replayed: Readonly<Record<string, unknown>> | undefined,
): string[] {
  if (recorded === undefined || replayed === undefined) return recorded === replayed ? [] : ['(output)'];
  const keys = [...new Set([...Object.keys(recorded), ...Object.keys(replayed)])].sort();
  return keys.filter((k) => JSON.stringify(recorded[k]) !== JSON.stringify(replayed[k]));
}

const COLUMN = 58;

/** The report as two columns (recorded | replayed) for a terminal, then a line of what differs. */
export function formatReplayReport(report: ReplayReport): string {
  const { recorded: a, replayed: b } = report;
  const rows: [string, string | undefined, string | undefined][] = [
    ['workflow', a.workflow, b.workflow],
    ['prompt', a.prompt, b.prompt],
    ['model', a.model, b.model],
    ['outcome', a.decision?.outcome, b.decision?.outcome],
    ['confidence', a.decision?.confidence?.toFixed(3), b.decision?.confidence?.toFixed(3)],
    ['violations', a.decision?.violations.join('; ') || '-', b.decision?.violations.join('; ') || '-'],
    ['reason', a.decision?.reason, b.decision?.reason],
    [
      'tokens',
      a.usage && `${a.usage.promptTokens} in / ${a.usage.completionTokens} out`,
      b.usage && `${b.usage.promptTokens} in / ${b.usage.completionTokens} out`,
    ],
    ['cost USD', a.usage?.costUsd.toFixed(6), b.usage?.costUsd.toFixed(6)],
    [
      'latency ms',
      a.usage && String(Math.round(a.usage.latencyMs)),
      b.usage && String(Math.round(b.usage.latencyMs)),
    ],
    ['output', json(a.output ?? a.text), json(b.output ?? b.text)],
  ];
  const lines = [
    `replay of request ${report.requestId} (tenant ${report.tenantId}); nothing was published`,
    `${''.padEnd(12)}${'RECORDED'.padEnd(COLUMN)} | REPLAYED`,
  ];
  for (const [label, left, right] of rows) {
    const l = wrap(left ?? '-');
    const r = wrap(right ?? '-');
    for (let i = 0; i < Math.max(l.length, r.length); i++) {
      const mark = i === 0 && (left ?? '-') !== (right ?? '-') ? '*' : ' ';
      lines.push(`${(i === 0 ? label : '').padEnd(11)}${mark}${(l[i] ?? '').padEnd(COLUMN)} | ${r[i] ?? ''}`);
    }
  }
  lines.push(
    report.outputDifferences.length === 0
      ? 'output: identical'
      : `output differs in: ${report.outputDifferences.join(', ')}`,
    report.outcomeChanged
      ? `outcome changed: ${a.decision?.outcome ?? 'unknown'} -> ${b.decision?.outcome ?? 'unknown'}`
      : `outcome unchanged: ${b.decision?.outcome ?? 'unknown'}`,
  );
  return lines.join('\n');
}

function json(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(sortedKeys(value), null, 1);
}

/** The value with object keys in code-point order: the trail's JSON (jsonb) does not keep the model's order. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]),
  );
}

/** Lines of at most COLUMN characters, breaking long ones. */
function wrap(text: string): string[] {
  return text.split('\n').flatMap((line) => {
    const parts: string[] = [];
    for (let i = 0; i < line.length; i += COLUMN) parts.push(line.slice(i, i + COLUMN));
    return parts.length ? parts : [''];
  });
}
