import type { EventDefinition, TopicSpec } from '@llmbus/contracts';

/** An event a stage or an ingress wants published. */
export interface Outgoing<P extends object = object> {
  readonly definition: EventDefinition<P>;
  readonly payload: P;
  /** Overrides the definition's topic; used for the per-stage dead-letter topics. */
  readonly topic?: TopicSpec;
  /** Attempt of the producing stage (1-based); part of the derived event id. */
  readonly attempt?: number;
  /** Explicit id, for events that start a chain (an ingress derives it from the request id). */
  readonly id?: string;
  /** Required when the event has no cause; otherwise inherited from the cause. */
  readonly tenantId?: string;
  readonly subject?: string;
}

/** Builds an Outgoing with the payload type checked against the definition. */
export function outgoing<P extends object>(
  definition: EventDefinition<P>,
  payload: P,
  extra: Omit<Outgoing<P>, 'definition' | 'payload'> = {},
): Outgoing {
  return { definition, payload, ...extra } as Outgoing;
}
