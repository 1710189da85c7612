import { outgoing, type EventBus, type Outgoing } from '@llmbus/bus';
import {
  ModelCallRecordedEvent,
  type EventEnvelope,
  type ModelUsage,
  type ResponseGenerated,
  type WorkflowRef,
} from '@llmbus/contracts';
import type { Logger } from '@llmbus/observability';

/**
 * Publishes the billing record (ModelCallRecorded) of each model call as soon as the call has
 * returned, straight to the broker rather than with the handler's outputs: those are discarded when
 * the handling does not commit (a member evicted mid-call whose transaction is fenced in
 * exactly-once mode, a crash before the outputs are produced), but the provider has billed the
 * call all the same. The record's id is the call's own, so a call repeated for a redelivered input
 * is recorded too, while the repeated output (same derived id) is dropped downstream.
 */
export class ModelCallRecorder {
  constructor(private readonly bus: EventBus) {}

  /**
   * Records the call behind `generated`, caused by `cause`. Resolves to events the handler must
   * return with its outputs: none once published, or the record itself when publishing failed
   * (retrying the handler would bill another call).
   */
  async record(generated: ResponseGenerated, cause: EventEnvelope, log: Logger): Promise<Outgoing[]> {
    const { requestId, attempt, usage, callId } = generated;
    return this.recordCall(
      { requestId, attempt, usage, callId, workflow: generated.context.workflow },
      cause,
      log,
    );
  }

  /** Records one model call by its own id and usage (a tool-loop call, or a generation's last call). */
  async recordCall(
    call: { requestId: string; attempt: number; usage: ModelUsage; callId?: string; workflow?: WorkflowRef },
    cause: EventEnvelope,
    log: Logger,
  ): Promise<Outgoing[]> {
    const { requestId, attempt, usage, callId, workflow } = call;
    if (callId === undefined) return [];
    const record = outgoing(
      ModelCallRecordedEvent,
      {
        requestId,
        callId,
        stage: 'generator',
        attempt,
        usage,
        ...(workflow === undefined ? {} : { workflow }),
      },
      { id: callId, attempt },
    );
    try {
      await this.bus.publish([record], { envelope: cause, stage: 'generator' });
      return [];
    } catch (error) {
      log.warn(
        { err: error, callId },
        'model call record not published at once; it goes out with the outputs',
      );
      return [record];
    }
  }
}
