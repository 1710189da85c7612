import type { EventDefinition } from './event-definition';
import { ContextRetrievedEvent } from './events/context-retrieved';
import { DeadLetteredEvent } from './events/dead-lettered';
import { DocumentDeletedEvent } from './events/document-deleted';
import { DocumentFailedEvent } from './events/document-failed';
import { DocumentRemovedEvent } from './events/document-removed';
import { DocumentIndexedEvent } from './events/document-indexed';
import { DocumentSubmittedEvent } from './events/document-submitted';
import { ModelCallRecordedEvent } from './events/model-call-recorded';
import { RegenerationRequestedEvent } from './events/regeneration-requested';
import { RequestCompletedEvent } from './events/request-completed';
import { RequestFailedEvent } from './events/request-failed';
import { RequestRoutedEvent } from './events/request-routed';
import { RequestSubmittedEvent } from './events/request-submitted';
import { ResponseGeneratedEvent } from './events/response-generated';
import { ReviewDecidedEvent } from './events/review-decided';
import { ReviewRequestedEvent } from './events/review-requested';
import { ToolCallsCompletedEvent } from './events/tool-calls-completed';
import { ToolCallsRequestedEvent } from './events/tool-calls-requested';
import { ResponseDraftEvent } from './events/response-draft';
import { DeadLetterTopics, isRetryTopic, TOPICS } from './topics';

/** Every event type of the platform. */
export const EVENTS: readonly EventDefinition[] = [
  RequestSubmittedEvent,
  RequestRoutedEvent,
  ContextRetrievedEvent,
  ResponseGeneratedEvent,
  RegenerationRequestedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  ReviewRequestedEvent,
  ReviewDecidedEvent,
  DocumentSubmittedEvent,
  DocumentIndexedEvent,
  DocumentDeletedEvent,
  DocumentRemovedEvent,
  DocumentFailedEvent,
  DeadLetteredEvent,
  ModelCallRecordedEvent,
  ToolCallsRequestedEvent,
  ToolCallsCompletedEvent,
  ResponseDraftEvent,
] as EventDefinition[];

const byType = new Map(EVENTS.map((e) => [e.type, e]));

/** The definition of a CloudEvents type, or undefined when the platform does not know it. */
export function eventByType(type: string): EventDefinition | undefined {
  return byType.get(type);
}

const deadLetterTopicNames = new Set(Object.values(DeadLetterTopics).map((t) => t.name));

/**
 * Event types that may appear on a topic (unprefixed name). A retry topic carries copies of the
 * events its stage consumes, whatever their type (never dead-letter records).
 */
export function eventTypesOnTopic(topic: string): readonly string[] {
  if (deadLetterTopicNames.has(topic)) return [DeadLetteredEvent.type];
  if (isRetryTopic(topic)) return EVENTS.filter((e) => e !== DeadLetteredEvent).map((e) => e.type);
  return EVENTS.filter((e) => e.topic.name === topic).map((e) => e.type);
}

/** Checks the registry is consistent: every event's topic is registered and types are unique. */
export function assertCatalogConsistent(): void {
  const names = new Set(TOPICS.map((t) => t.name));
  for (const e of EVENTS) {
    if (!names.has(e.topic.name)) throw new Error(`event ${e.type} uses unregistered topic ${e.topic.name}`);
  }
  if (byType.size !== EVENTS.length) throw new Error('duplicate event type in EVENTS');
}
