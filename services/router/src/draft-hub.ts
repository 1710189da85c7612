import { tailEvents, type EventBus, type Subscription, type TailedEvent } from '@llmbus/bus';
import {
  RequestCompletedEvent,
  RequestFailedEvent,
  ResponseDraftEvent,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import { hostname } from 'node:os';
import { requestKey } from './request-key';

/** What a stream reader is told about a request: a draft of the output, or a change of status. */
export type StreamItem =
  | {
      readonly kind: 'draft';
      readonly attempt: number;
      readonly seq: number;
      readonly text: string;
      readonly done: boolean;
    }
  | { readonly kind: 'status'; readonly status: 'review' | 'completed' | 'failed' };

type Listener = (item: StreamItem) => void;

/** Requests whose latest draft is kept for readers who connect mid-stream (oldest dropped first). */
const MAX_KEPT_DRAFTS = 10_000;

/**
 * Every replica's view of live drafts and outcomes: follows ResponseDraft, RequestCompleted,
 * RequestFailed and ReviewRequested from the moment it starts, with a consumer group of its own
 * (so any router replica can serve any request's stream), and hands them to the readers of that
 * request. Keyed by tenant and request id: a reader only ever subscribes under its principal's
 * tenant, so another tenant's drafts cannot reach it. Keeps the latest draft of recent requests
 * for readers who connect after it was published.
 */
export class DraftHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly latest = new Map<string, StreamItem & { kind: 'draft' }>();
  private subscription?: Subscription;

  /**
   * Starts following the bus; resolves once the tail has joined its group. `instance` names this
   * replica stably across its restarts (host and HTTP port), so a restart reuses its group rather
   * than leaving one behind; the group is deleted when the hub closes.
   */
  async start(bus: EventBus, instance: string = `${hostname()}.${process.pid}`): Promise<void> {
    const groupId = `${bus.topicPrefix}llmbus.router.stream.${instance.replace(/[^A-Za-z0-9._-]/g, '_')}`;
    this.subscription = await tailEvents(bus, {
      groupId,
      types: [
        ResponseDraftEvent.type,
        RequestCompletedEvent.type,
        RequestFailedEvent.type,
        ReviewRequestedEvent.type,
      ],
      handle: (event) => this.accept(event),
    });
  }

  /** Stops following the bus. */
  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }

  /**
   * Registers a reader of one request of one tenant; returns the latest draft already seen (if
   * any) and the function that unregisters it.
   */
  subscribe(
    tenantId: string,
    requestId: string,
    listener: Listener,
  ): { latest?: StreamItem; unsubscribe: () => void } {
    const key = requestKey(tenantId, requestId);
    let set = this.listeners.get(key);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    return {
      latest: this.latest.get(key),
      unsubscribe: () => {
        set.delete(listener);
        if (set.size === 0) this.listeners.delete(key);
      },
    };
  }

  /** Hands one followed event to the readers of its request (exposed for the embedded wiring and tests). */
  accept(event: TailedEvent): void {
    const requestId = event.data['requestId'];
    if (typeof requestId !== 'string') return;
    const key = requestKey(event.tenantId, requestId);
    let item: StreamItem;
    if (event.type === ResponseDraftEvent.type) {
      const { attempt, seq, text, done } = event.data;
      if (typeof attempt !== 'number' || typeof seq !== 'number' || typeof text !== 'string') return;
      const draft = { kind: 'draft' as const, attempt, seq, text, done: done === true };
      const kept = this.latest.get(key);
      // Drafts of one request arrive in order on one partition; keep the newest of the newest attempt.
      if (kept === undefined || attempt > kept.attempt || (attempt === kept.attempt && seq > kept.seq)) {
        this.latest.delete(key);
        this.latest.set(key, draft);
        while (this.latest.size > MAX_KEPT_DRAFTS)
          this.latest.delete(this.latest.keys().next().value as string);
      }
      item = draft;
    } else {
      const status =
        event.type === RequestCompletedEvent.type
          ? 'completed'
          : event.type === RequestFailedEvent.type
            ? 'failed'
            : 'review';
      if (status !== 'review') this.latest.delete(key);
      item = { kind: 'status', status };
    }
    for (const listener of this.listeners.get(key) ?? []) listener(item);
  }
}
