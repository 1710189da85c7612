import type { EventEnvelope, Stage } from '@llmbus/contracts';
import type { EventBus, FetchWait, HandlerContext, Outgoing, StageHandlers, Subscription } from '@llmbus/bus';
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';

export interface BusServerOptions {
  readonly bus: EventBus;
  readonly stage: Stage;
  readonly groupId?: string;
  /** See SubscribeOptions.notifyRequester. */
  readonly notifyRequester: boolean;
  /** See SubscribeOptions.onRetriesExhausted. */
  readonly onRetriesExhausted?: 'dead-letter' | 'redeliver';
  /** See SubscribeOptions.fetch. */
  readonly fetch?: FetchWait;
}

/**
 * A Nest microservice transport over the platform bus. `@EventPattern(<event type>)` handlers
 * receive validated envelopes and return the events they cause; the bus does validation,
 * de-duplication, retries, dead-lettering and commit-after-produce, identically on Kafka and
 * in-process.
 */
export class BusServer extends Server implements CustomTransportStrategy {
  private subscription?: Subscription;

  constructor(private readonly options: BusServerOptions) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      const handlers: Record<
        string,
        (e: EventEnvelope<object>, c: HandlerContext) => Promise<readonly Outgoing[]>
      > = {};
      for (const [pattern, handler] of this.messageHandlers) {
        handlers[pattern] = async (event, context) => {
          const result = this.transformToObservable(await handler(event, context));
          return ((await lastValueFrom(result, { defaultValue: [] })) ?? []) as readonly Outgoing[];
        };
      }
      this.subscription = await this.options.bus.subscribe({
        stage: this.options.stage,
        groupId: this.options.groupId,
        handlers: handlers as StageHandlers,
        notifyRequester: this.options.notifyRequester,
        onRetriesExhausted: this.options.onRetriesExhausted,
        fetch: this.options.fetch,
      });
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }

  on(): never {
    throw new Error('BusServer does not emit transport events; observe the bus metrics instead');
  }

  unwrap<T>(): T {
    return this.options.bus as T;
  }
}
