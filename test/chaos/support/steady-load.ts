// Requests produced to orchestration.request.v1 at a fixed rate, the way an upstream system does
// (plain kafkajs, CloudEvents binary headers), each labelled with the fault phase it was sent in.
// Sending never waits on the pipeline; a request counts as sent once the broker acknowledged it.
import { RequestSubmittedEvent, Topics } from '@llmbus/contracts';
import { ceHeaders, type Pipeline } from '../../support/pipeline-harness';
import { ESCALATE_MARKER } from './chaos-model-server';

/** What a request is built to end in when nothing goes wrong: completion, review, or a RequestFailed. */
export type RequestKind = 'complete' | 'escalate' | 'reject';

/** One request of the load, with its bookkeeping. */
export interface LoadRequest {
  readonly requestId: string;
  readonly phase: string;
  readonly kind: RequestKind;
  readonly createdAt: number;
  /** When the broker acknowledged it; undefined while unsent. */
  ackedAt?: number;
  /** Send attempts (more than one while the broker was down). */
  attempts: number;
}

/** A support ticket for the support-ticket workflow; `kind` picks what it should end in. */
export function ticketPayload(requestId: string, kind: RequestKind): Record<string, unknown> {
  return {
    requestId,
    eventType: 'ticket.created',
    // An unknown workflow: the router answers RequestFailed (unknown_workflow).
    ...(kind === 'reject' ? { workflow: 'no-such-workflow' } : {}),
    input: {
      subject: `${kind === 'escalate' ? `${ESCALATE_MARKER} ` : ''}Password reset email never arrives`,
      body: 'I clicked Forgot password twice but no email came. How do I get into my account?',
      priority: 'normal',
      product: 'Acme Sync',
    },
    requester: { userId: 'chaos-load', groups: [] },
  };
}

/** Every tenth request escalates, every tenth (offset) is rejected, the rest complete. */
function kindOf(sequence: number): RequestKind {
  if (sequence % 10 === 9) return 'escalate';
  if (sequence % 10 === 4) return 'reject';
  return 'complete';
}

/** Produces requests at a fixed rate until stopped; `phase` labels the requests created from now on. */
export class SteadyLoad {
  readonly requests = new Map<string, LoadRequest>();
  phase = 'warm-up';
  private sequence = 0;
  private timer?: NodeJS.Timeout;
  private readonly queue: { request: LoadRequest; headers: Record<string, string>; value: string }[] = [];
  private sender?: Promise<void>;
  private stopped = false;
  private wake?: () => void;
  /** Last send error, for the report. */
  lastSendError?: string;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly tenant: string,
    private readonly ratePerSecond: number,
    private readonly idPrefix: string,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.enqueue(), 1000 / this.ratePerSecond);
    this.sender = this.sendLoop();
  }

  /** Stops creating requests and resolves once every created request was acknowledged, or at the deadline. */
  async stop(deadlineMs: number): Promise<void> {
    clearInterval(this.timer);
    const until = Date.now() + deadlineMs;
    while (this.queue.length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    this.stopped = true;
    this.wake?.();
    await this.sender;
  }

  /** Requests of a phase. */
  ofPhase(phase: string): LoadRequest[] {
    return [...this.requests.values()].filter((r) => r.phase === phase);
  }

  private enqueue(): void {
    const sequence = this.sequence++;
    const requestId = `${this.idPrefix}-${String(sequence).padStart(5, '0')}`;
    const kind = kindOf(sequence);
    const request: LoadRequest = { requestId, phase: this.phase, kind, createdAt: Date.now(), attempts: 0 };
    this.requests.set(requestId, request);
    this.queue.push({
      request,
      // Built once: a re-send after a failed attempt is the same event (same ce_id), as a producer retries it.
      headers: ceHeaders(RequestSubmittedEvent.type, requestId, this.tenant),
      value: JSON.stringify(ticketPayload(requestId, kind)),
    });
    this.wake?.();
  }

  /** One send at a time (kafkajs' idempotent producer keeps order only then); retries until acknowledged. */
  private async sendLoop(): Promise<void> {
    while (!this.stopped) {
      const next = this.queue[0];
      if (!next) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      next.request.attempts += 1;
      try {
        await this.pipeline.send(Topics.Request.name, next.request.requestId, next.headers, next.value);
        next.request.ackedAt = Date.now();
        this.queue.shift();
      } catch (error) {
        this.lastSendError = error instanceof Error ? error.message : String(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }
}
