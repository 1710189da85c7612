import { randomBytes } from 'node:crypto';
import type { EventBus, Subscription } from '@llmbus/bus';
import { outgoing } from '@llmbus/bus';
import {
  type Assessment,
  type ContextRetrieved,
  ContextRetrievedEvent,
  type DocumentFailed,
  DocumentFailedEvent,
  type DocumentIndexed,
  DocumentIndexedEvent,
  DocumentSubmittedEvent,
  type EventEnvelope,
  type ModelUsage,
  type Passage,
  type RequestCompleted,
  RequestCompletedEvent,
  type RequestFailed,
  RequestFailedEvent,
  RequestSubmittedEvent,
  type ReviewRequested,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import type { EvalDataset, EvalItem } from './dataset';

/** How an item's request ended: accepted, sent to review, failed, or no outcome before the deadline. */
export type OutcomeKind = 'completed' | 'review' | 'failed' | 'timeout';

/** What the pipeline did with one item, as observed on the bus. */
export interface ItemRun {
  readonly item: EvalItem;
  readonly requestId: string;
  readonly outcome: OutcomeKind;
  /** `<workflow id>@v<version>` from the outcome (the item's workflow when the outcome does not say). */
  readonly workflowVersion: string;
  /** Submit to outcome, wall-clock milliseconds. */
  readonly latencyMs: number;
  readonly output?: Readonly<Record<string, unknown>>;
  readonly assessment?: Assessment;
  readonly usage?: ModelUsage;
  readonly attempts?: number;
  /** Review reason or failure code and message. */
  readonly reason?: string;
  readonly violations?: readonly string[];
  /** Passages retrieved for the request (to map cited passage ids to documents). */
  readonly passages: readonly Passage[];
  readonly withheldCount?: number;
  readonly answerable?: boolean;
  readonly relevance?: number;
}

export interface RunOptions {
  /** Items in flight at once. Default 2. */
  readonly concurrency?: number;
  /** Per item, submit to outcome. Default 600 000 ms. */
  readonly itemTimeoutMs?: number;
  /** Indexing of all corpora. Default 600 000 ms. */
  readonly indexTimeoutMs?: number;
  /** Called after each item. */
  readonly onItem?: (run: ItemRun, done: number, total: number) => void;
  /** Consumer group of the observer. Default `llmbus.eval.<random>` (a fresh group reads only new events). */
  readonly groupId?: string;
}

type Waiter = () => void;

/**
 * Runs a dataset through the real pipeline on `bus` (embedded or Kafka): ingests each corpus once
 * per tenant, waits until every document is indexed, submits every item as a RequestSubmitted
 * (with the item's tenant and requester groups) and observes ContextRetrieved and the outcome
 * (RequestCompleted, ReviewRequested or RequestFailed) through a consumer group of its own.
 * Items that see no outcome within `itemTimeoutMs` count as `timeout`; nothing throws for a bad
 * item. Throws when a corpus document is refused (DocumentFailed, named with what to fix) or when
 * indexing does not finish within `indexTimeoutMs`.
 */
export async function runDataset(
  bus: EventBus,
  dataset: EvalDataset,
  options: RunOptions = {},
): Promise<ItemRun[]> {
  const runId = randomBytes(4).toString('hex');
  const indexed = new Set<string>();
  /** Refused documents (DocumentFailed), `tenant/documentId` to what to fix. */
  const refused = new Map<string, string>();
  const contexts = new Map<string, ContextRetrieved>();
  const outcomes = new Map<string, { type: string; data: unknown; at: number }>();
  const waiters = new Set<Waiter>();
  const wake = () => [...waiters].forEach((w) => w());
  const record = (event: EventEnvelope<object>) => {
    if (event.type === DocumentIndexedEvent.type) {
      indexed.add(`${event.tenantid}/${(event.data as DocumentIndexed).documentId}`);
    } else if (event.type === DocumentFailedEvent.type) {
      const data = event.data as DocumentFailed;
      refused.set(`${event.tenantid}/${data.documentId}`, `${data.code}: ${data.message}`);
    } else if (event.type === ContextRetrievedEvent.type) {
      const data = event.data as ContextRetrieved;
      contexts.set(data.requestId, data);
    } else if (!outcomes.has(event.correlationid)) {
      outcomes.set(event.correlationid, { type: event.type, data: event.data, at: Date.now() });
    }
    wake();
    return Promise.resolve([]);
  };
  const subscription: Subscription = await bus.subscribe({
    stage: 'auditor',
    groupId: options.groupId ?? `llmbus.eval.${runId}`,
    notifyRequester: false,
    handlers: {
      [DocumentIndexedEvent.type]: record,
      [DocumentFailedEvent.type]: record,
      [ContextRetrievedEvent.type]: record,
      [RequestCompletedEvent.type]: record,
      [RequestFailedEvent.type]: record,
      [ReviewRequestedEvent.type]: record,
    },
  });
  const until = (probe: () => boolean, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      const check = () => {
        if (!probe()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        resolve(false);
      }, timeoutMs);
      waiters.add(check);
      check();
    });

  try {
    // Corpora: each once per tenant that uses it.
    const wanted: string[] = [];
    const ingested = new Set<string>();
    for (const item of dataset.items) {
      if (item.corpus === undefined) continue;
      const corpus = [...dataset.corpora.values()].find((c) =>
        c.path.endsWith(item.corpus!.replace(/^\.\//, '')),
      );
      if (!corpus || ingested.has(`${item.tenant} ${corpus.path}`)) continue;
      ingested.add(`${item.tenant} ${corpus.path}`);
      await bus.publish(
        corpus.documents.map((d) => outgoing(DocumentSubmittedEvent, d, { tenantId: item.tenant })),
      );
      wanted.push(...corpus.documents.map((d) => `${item.tenant}/${d.documentId}`));
    }
    const indexTimeout = options.indexTimeoutMs ?? 600_000;
    const settled = (k: string) => indexed.has(k) || refused.has(k);
    const finished = await until(() => wanted.every(settled), indexTimeout);
    const failed = wanted.filter((k) => !indexed.has(k) && refused.has(k));
    if (failed.length > 0) {
      throw new Error(
        `${failed.length} of ${wanted.length} documents were refused by the retriever (first: ${failed
          .slice(0, 3)
          .map((k) => `${k}: ${refused.get(k)}`)
          .join('; ')}); fix the corpus`,
      );
    }
    if (!finished) {
      const missing = wanted.filter((k) => !indexed.has(k));
      throw new Error(
        `${missing.length} of ${wanted.length} documents were not indexed within ${indexTimeout} ms (first: ${missing.slice(0, 3).join(', ')}); is the retriever running on this bus?`,
      );
    }

    const runs: ItemRun[] = [];
    const queue = [...dataset.items];
    const timeout = options.itemTimeoutMs ?? 600_000;
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const requestId = `eval-${runId}-${item.id}`.slice(0, 128);
        const started = Date.now();
        await bus.publish([
          outgoing(
            RequestSubmittedEvent,
            {
              requestId,
              eventType: item.eventType,
              workflow: item.workflow,
              input: { ...item.input },
              requester: { userId: item.requester.userId, groups: [...item.requester.groups] },
            },
            { tenantId: item.tenant },
          ),
        ]);
        await until(() => outcomes.has(requestId), timeout);
        const run = toRun(item, requestId, started, outcomes.get(requestId), contexts.get(requestId));
        runs.push(run);
        options.onItem?.(run, runs.length, dataset.items.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
    const order = new Map(dataset.items.map((item, i) => [item.id, i]));
    return runs.sort((a, b) => order.get(a.item.id)! - order.get(b.item.id)!);
  } finally {
    await subscription.close();
  }
}

function toRun(
  item: EvalItem,
  requestId: string,
  started: number,
  outcome: { type: string; data: unknown; at: number } | undefined,
  context: ContextRetrieved | undefined,
): ItemRun {
  const base = {
    item,
    requestId,
    passages: context?.passages ?? [],
    withheldCount: context?.withheldCount,
    answerable: context?.answerable,
    relevance: context?.relevance,
  };
  if (!outcome) {
    return {
      ...base,
      outcome: 'timeout',
      workflowVersion: `${item.workflow}@v?`,
      latencyMs: Date.now() - started,
    };
  }
  const latencyMs = outcome.at - started;
  if (outcome.type === RequestCompletedEvent.type) {
    const data = outcome.data as RequestCompleted;
    return {
      ...base,
      outcome: 'completed',
      workflowVersion: `${data.workflow.id}@v${data.workflow.version}`,
      latencyMs,
      output: data.output,
      assessment: data.assessment,
      usage: data.usage,
      attempts: data.attempts,
    };
  }
  if (outcome.type === ReviewRequestedEvent.type) {
    const data = outcome.data as ReviewRequested;
    return {
      ...base,
      outcome: 'review',
      workflowVersion: `${data.context.workflow.id}@v${data.context.workflow.version}`,
      latencyMs,
      output: data.output,
      assessment: data.assessment,
      usage: data.usage,
      attempts: data.attempts,
      reason: data.reason,
      violations: data.violations,
    };
  }
  const data = outcome.data as RequestFailed;
  return {
    ...base,
    outcome: 'failed',
    workflowVersion: `${item.workflow}@v?`,
    latencyMs,
    reason: `${data.code}: ${data.message}`,
    violations: data.details,
  };
}
