// Counting by request id: which final outcomes the result and review topics carried for each
// request, read from the tap as a downstream consumer sees them. The tap's own redeliveries (after
// a broker restart) are folded by topic, partition and offset, so a count is of records written,
// not of deliveries to the tap.
import {
  DeadLetteredEvent,
  DocumentFailedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import type { TappedMessage, TopicTap } from '../../support/topic-tap';

/** A final outcome kind: completed or failed on the result topic, or escalated to human review. */
export type OutcomeKind = 'completed' | 'failed' | 'review';

/** One outcome event seen for a request. */
export interface SeenOutcome {
  readonly kind: OutcomeKind;
  readonly eventId: string;
  /** The failure code of a RequestFailed. */
  readonly code?: string;
  readonly stage?: string;
}

/** One dead-letter record, with where its original message was. */
export interface SeenDeadLetter {
  readonly dlqTopic: string;
  readonly originalTopic: string;
  readonly originalPartition: number;
  readonly originalOffset: string;
  readonly reasonCode: string;
  readonly correlationId?: string;
}

const OUTCOME_TYPES: Readonly<Record<string, OutcomeKind>> = {
  [RequestCompletedEvent.type]: 'completed',
  [RequestFailedEvent.type]: 'failed',
  // A refused document is answered on the document outcome topic, keyed by its id, not as a request.
  [DocumentFailedEvent.type]: 'failed',
  [ReviewRequestedEvent.type]: 'review',
};

/** Indexes a tap's messages incrementally: outcomes by request id, dead letters by original position. */
export class OutcomeLedger {
  private readonly outcomes = new Map<string, SeenOutcome[]>();
  private readonly seenRecords = new Set<string>();
  private readonly deadLetters = new Map<string, SeenDeadLetter[]>();
  /** Event types seen on any tapped topic, by correlation id: where a request got to. */
  private readonly path = new Map<string, string[]>();
  private read = 0;

  constructor(
    private readonly tap: TopicTap,
    /** Physical names of the result, review and document outcome topics: outcomes count only from there. */
    private readonly outcomeTopics: readonly string[],
    /** Physical names of the dead-letter topics to index. */
    private readonly dlqTopics: readonly string[],
  ) {}

  /** Takes in the messages the tap received since the last call. */
  refresh(): void {
    const messages = this.tap.messages;
    for (; this.read < messages.length; this.read++) this.index(messages[this.read]);
  }

  /** Outcome events of a request (distinct events; empty when none). */
  outcomesOf(requestId: string): readonly SeenOutcome[] {
    this.refresh();
    return this.outcomes.get(requestId) ?? [];
  }

  /** Dead-letter records of the message at topic/partition/offset. */
  deadLettersOf(topic: string, partition: number, offset: string): readonly SeenDeadLetter[] {
    this.refresh();
    return this.deadLetters.get(`${topic}/${partition}/${offset}`) ?? [];
  }

  /** Event types seen for a request on the tapped topics, in the order the tap received them. */
  pathOf(requestId: string): readonly string[] {
    this.refresh();
    return this.path.get(requestId) ?? [];
  }

  /** Every request id that has at least one outcome. */
  requestIdsWithOutcomes(): ReadonlySet<string> {
    this.refresh();
    return new Set(this.outcomes.keys());
  }

  private index(m: TappedMessage): void {
    const type = m.headers['ce_type'];
    // Folded by record, not by event id: distinct records that share an id are distinct outcomes.
    const recordKey = `${m.topic}/${m.partition}/${m.offset}`;
    if (this.seenRecords.has(recordKey)) return;
    this.seenRecords.add(recordKey);
    const correlationId = m.headers['ce_correlationid'];
    if (correlationId !== undefined && type !== undefined) {
      this.path.set(correlationId, [...(this.path.get(correlationId) ?? []), type]);
    }
    const kind = type === undefined ? undefined : OUTCOME_TYPES[type];
    if (kind !== undefined && this.outcomeTopics.includes(m.topic)) {
      const requestId = typeof m.json?.['requestId'] === 'string' ? m.json['requestId'] : m.key;
      if (requestId === null) return;
      const list = this.outcomes.get(requestId) ?? [];
      list.push({
        kind,
        eventId: m.headers['ce_id'] ?? '?',
        code: typeof m.json?.['code'] === 'string' ? m.json['code'] : undefined,
        stage: typeof m.json?.['stage'] === 'string' ? m.json['stage'] : undefined,
      });
      this.outcomes.set(requestId, list);
      return;
    }
    if (type === DeadLetteredEvent.type && this.dlqTopics.includes(m.topic) && m.json) {
      const d = m.json;
      const record: SeenDeadLetter = {
        dlqTopic: m.topic,
        originalTopic: String(d['originalTopic']),
        originalPartition: Number(d['originalPartition']),
        originalOffset: String(d['originalOffset']),
        reasonCode: String(d['reasonCode']),
        correlationId: typeof d['correlationId'] === 'string' ? d['correlationId'] : undefined,
      };
      const key = `${record.originalTopic}/${record.originalPartition}/${record.originalOffset}`;
      this.deadLetters.set(key, [...(this.deadLetters.get(key) ?? []), record]);
    }
  }
}

/** The distinct outcome kinds among a request's outcome events. */
export function kindsOf(outcomes: readonly SeenOutcome[]): OutcomeKind[] {
  return [...new Set(outcomes.map((o) => o.kind))];
}

/** Renders rows as a plain-text table with a header and right-aligned numbers. */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === 0 || isNaN(Number(cell)) ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}
