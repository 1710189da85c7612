import { FailureCode, REPLY_TO_MAX_LENGTH, toStorableText, truncateText } from '@llmbus/contracts';

/**
 * A message the consumer will not hand to a handler, with what is known of it. The identity fields
 * are read from the message before its envelope could be trusted, so each may be absent or odd.
 */
export interface Rejection {
  readonly code: FailureCode;
  /** What is wrong and what to fix, for the requester and the dead-letter record. */
  readonly reason: string;
  /**
   * One line per problem, `<where>: <what it must be>`; `<where>` is a JSON path into the payload
   * (`input.requester.groups`), an attribute or header (`ce_tenantid`) or `value`.
   */
  readonly errors: readonly string[];
  readonly correlationId?: string;
  readonly tenant?: string;
  readonly causeId?: string;
  /** CloudEvents source of the rejected event: with tenant and id, what tells it from others. */
  readonly causeSource?: string;
  readonly replyTo?: string;
  /** CloudEvents type the rejected message claims (`ce_type`), when it says one. */
  readonly eventType?: string;
  /** `documentId` of the payload, when it has one (a document's rejection is keyed by it). */
  readonly documentId?: string;
  /** `collection` of the payload, when it has one. */
  readonly collection?: string;
  /** False: dead-letter only, never a RequestFailed (the error said so); true or absent: as the stage does. */
  readonly notifyRequester?: boolean;
}

/** The identity part of a rejection: what a rejected message says about itself. */
export type RejectedIdentity = Pick<
  Rejection,
  | 'correlationId'
  | 'tenant'
  | 'causeId'
  | 'causeSource'
  | 'replyTo'
  | 'eventType'
  | 'documentId'
  | 'collection'
>;

/** Text of a dead-letter or failure record: cut on a code-point boundary and storable. */
export function cut(text: string, maxCodeUnits: number): string {
  return toStorableText(truncateText(text, maxCodeUnits));
}

/** True for a JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `replyTo` a payload asks failures to be sent to, cut to the RequestFailed limit. */
export function replyToOf(body: unknown): string | undefined {
  return isRecord(body) && typeof body['replyTo'] === 'string'
    ? cut(body['replyTo'], REPLY_TO_MAX_LENGTH)
    : undefined;
}

/** The `documentId` and `collection` a payload names, when they are strings (unvalidated). */
export function documentOf(body: unknown): Pick<Rejection, 'documentId' | 'collection'> {
  if (!isRecord(body)) return {};
  const { documentId, collection } = body;
  return {
    documentId: typeof documentId === 'string' ? documentId : undefined,
    collection: typeof collection === 'string' ? collection : undefined,
  };
}

/** The message of an error, or the thrown value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
