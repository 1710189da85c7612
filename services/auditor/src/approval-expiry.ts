import type { AuditStore } from '@llmbus/audit';
import { outgoing, type EventBus } from '@llmbus/bus';
import { RequestFailedEvent, truncateText, type EventEnvelope } from '@llmbus/contracts';
import type { Logger } from '@llmbus/observability';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

/** How often the auditor looks for expired tool approvals, in milliseconds. */
export const APPROVAL_EXPIRY_SWEEP_MS = 5_000;
const BATCH = 100;

/**
 * Ends requests whose tool approval expired undecided (the generator stamps `expiresAt` from
 * LLMBUS_APPROVAL_EXPIRY_MS): publishes a RequestFailed `approval_expired` caused by the review,
 * so its id derives from the review and every auditor replica publishes the same event (consumers
 * keep the first). The decision API refuses decisions after `expiresAt`, and the generator fails
 * a late decision the same way, so an expired call never runs.
 */
export class ApprovalExpiry implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    private readonly store: AuditStore,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly everyMs = APPROVAL_EXPIRY_SWEEP_MS,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .then(
          () => undefined,
          (error: unknown) => this.log.warn({ err: error }, 'expired tool approvals not swept'),
        )
        .finally(() => (this.sweeping = undefined));
    }, this.everyMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Fails every request whose tool approval expired before `now`; resolves with how many. */
  async sweep(now = new Date()): Promise<number> {
    const expired = await this.store.expiredToolApprovals(now, BATCH);
    for (const { requestId, review } of expired) {
      const data = review.envelope.data as {
        toolApproval?: { tool?: string; callId?: string; expiresAt?: string };
        context?: { replyTo?: string };
      };
      const approval = data.toolApproval ?? {};
      await this.bus.publish(
        [
          outgoing(RequestFailedEvent, {
            requestId,
            code: 'approval_expired',
            message: truncateText(
              `nobody decided on ${approval.tool ?? 'the tool call'} (call ${approval.callId ?? '?'}) before its approval expired at ${approval.expiresAt ?? '?'}; the call did not run. Submit the request again, or raise LLMBUS_APPROVAL_EXPIRY_MS`,
              2000,
            ),
            stage: 'auditor',
            details: [`expiresAt: ${approval.expiresAt ?? ''}`],
            replyTo: data.context?.replyTo,
          }),
        ],
        { envelope: review.envelope as EventEnvelope, stage: 'auditor' },
      );
      this.log.info({ requestId, tool: approval.tool }, 'tool approval expired; request failed');
    }
    return expired.length;
  }
}
