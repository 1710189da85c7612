import { decodeMessage, eventByType } from '@llmbus/contracts';
import type { EventBus } from './event-bus';
import type { Subscription } from './transport';

/** One event a tail hands on: its CloudEvents type, tenant and payload (not validated beyond JSON). */
export interface TailedEvent {
  readonly type: string;
  readonly tenantId: string;
  readonly id: string;
  readonly data: Record<string, unknown>;
}

export interface TailOptions {
  /**
   * A group of this reader's own (every replica of the reader sees every event), stable across its
   * restarts (e.g. host and port); deleted from the broker when the tail closes.
   */
  readonly groupId: string;
  /** CloudEvents types to read; their topics are subscribed. */
  readonly types: readonly string[];
  /** Called for each event of those types, in partition order; errors are logged and skipped. */
  readonly handle: (event: TailedEvent) => void | Promise<void>;
}

/**
 * Follows events from the moment of subscribing (latest offsets, no replay of history) with a
 * consumer group of its own, for readers that every replica must see, such as the HTTP stream
 * endpoint. Unlike a stage subscription it never dead-letters, retries or deduplicates: an event
 * it cannot read is skipped. Throws when a type is not in the catalog.
 */
export async function tailEvents(bus: EventBus, options: TailOptions): Promise<Subscription> {
  const wanted = new Set(options.types);
  const topics = new Set<string>();
  for (const type of options.types) {
    const definition = eventByType(type);
    if (definition === undefined) throw new Error(`no event type ${type} to tail`);
    topics.add(bus.physicalTopic(definition.topic.name));
  }
  return bus.transport.consume({
    groupId: options.groupId,
    topics: [...topics],
    fromBeginning: false,
    deleteGroupOnClose: true,
    handle: async (message) => {
      const decoded = decodeMessage(message.headers, message.value?.toString('utf8') ?? '');
      const { type, tenantid, id } = decoded.attributes;
      if (decoded.problem !== undefined || typeof type !== 'string' || !wanted.has(type)) return;
      if (typeof tenantid !== 'string' || typeof id !== 'string') return;
      if (typeof decoded.data !== 'object' || decoded.data === null || Array.isArray(decoded.data)) return;
      try {
        await options.handle({ type, tenantId: tenantid, id, data: decoded.data as Record<string, unknown> });
      } catch (error) {
        bus.logger.warn(
          { err: error, type, groupId: options.groupId },
          'event tail handler failed; event skipped',
        );
      }
    },
  });
}
