import { outgoing, type EventBus } from '@llmbus/bus';
import { ResponseDraftEvent, type EventEnvelope } from '@llmbus/contracts';
import type { Logger } from '@llmbus/observability';
import { PiiMasker, PiiVault, type PiiActions } from '@llmbus/pii';
import { randomUUID } from 'node:crypto';

/** Where a generation writes its draft while the model streams. */
export interface DraftSink {
  /** Text the model just wrote. */
  push(text: string): void;
  /** Publishes the final draft (`done: true`, once) and waits for the drafts still being published. */
  end(): Promise<void>;
}

/** Opens a draft sink for one attempt, given the outputs policy of the request's tenant. */
export type OpenDraft = (outputs: PiiActions) => DraftSink;

const MAX_DRAFT_CHARS = 64_000;

/**
 * Publishes drafts of a streaming model call as ResponseDraft events (whole text so far, at most
 * one every `intervalMs`, the last one with `done`), straight to the broker and best-effort: a
 * draft that cannot be published is logged and dropped (the outcome does not depend on drafts).
 * Personal data in a draft is handled per the workflow's outputs policy with `mask` turned into
 * `redact`, since a draft has no placeholder vault to restore from: a draft never shows a value
 * the validated output would not. Source: the pii lib's PiiMasker over the platform detector.
 */
export class DraftPublisher {
  constructor(
    private readonly bus: EventBus,
    private readonly masker: PiiMasker,
    private readonly intervalMs = 250,
  ) {}

  /** A factory of sinks for the attempt `attempt` of the request `cause` belongs to. */
  opener(cause: EventEnvelope, requestId: string, attempt: number, log: Logger): OpenDraft {
    return (outputs) => {
      const actions = Object.fromEntries(
        Object.entries(outputs).map(([type, action]) => [type, action === 'allow' ? 'allow' : 'redact']),
      ) as PiiActions;
      let draft = '';
      let seq = 0;
      let lastAt = 0;
      let chain: Promise<void> = Promise.resolve();
      let ended = false;
      const flush = (done: boolean) => {
        const text = this.masker.maskText(draft.slice(0, MAX_DRAFT_CHARS), actions, new PiiVault());
        const event = outgoing(
          ResponseDraftEvent,
          { requestId, attempt, seq: seq++, text, ...(done ? { done: true } : {}) },
          { id: randomUUID(), attempt },
        );
        lastAt = Date.now();
        chain = chain
          .then(async () => {
            await this.bus.publish([event], { envelope: cause, stage: 'generator' });
          })
          .catch((error: unknown) => log.warn({ err: error, requestId }, 'draft not published'));
      };
      return {
        push: (text) => {
          if (ended) return;
          draft += text;
          if (Date.now() - lastAt >= this.intervalMs) flush(false);
        },
        end: async () => {
          if (!ended) flush(true);
          ended = true;
          await chain;
        },
      };
    };
  }
}
