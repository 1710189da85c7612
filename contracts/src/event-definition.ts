import type { TopicSpec } from './topics';

/** Everything about one event type: its CloudEvents type, topic, message key and payload class. */
export interface EventDefinition<P extends object = object> {
  /** CloudEvents `type`, e.g. `llmbus.request.submitted`. */
  readonly type: string;
  readonly topic: TopicSpec;
  /** Payload class; class-validator decorators on it are the payload schema. */
  readonly payload: new () => P;
  /** Major schema version; a breaking change bumps it together with the topic version. */
  readonly schemaVersion: number;
  /** Message key: keeps one request's (or document's) events in one partition, in order. */
  key(payload: P): string;
  readonly description: string;
}

/** Declares an event type; the object returned is the only place its topic and key are defined. */
export function defineEvent<P extends object>(definition: EventDefinition<P>): EventDefinition<P> {
  return Object.freeze({ ...definition });
}

/** Payload type carried by an event definition. */
export type PayloadOf<D> = D extends EventDefinition<infer P> ? P : never;
