import {
  DeadLetterTopics,
  DocumentFailed,
  DocumentFailedEvent,
  DocumentSubmittedEvent,
  RequestFailedEvent,
  Topics,
  validatePayload,
} from '@llmbus/contracts';
import { deadLetterEvents, DeadLetterSetup } from './dead-letter';
import { decodeEvent } from './event-decoder';
import type { Rejection } from './rejection';
import type { RawMessage } from './transport';

const setup: DeadLetterSetup = {
  stage: 'retriever',
  groupId: 'llmbus.retriever',
  notifyRequester: true,
  maxEventBytes: 64 * 1024,
  deadLetterTopic: DeadLetterTopics.retriever,
  originTopic: Topics.DocumentIngest.name,
};

const document = {
  documentId: 'travel-policy',
  collection: 'policies',
  title: 'Travel policy',
  sourceUri: 'file:///policies/travel.pdf',
  contentType: 'application/pdf',
  content: 'Economy class for flights under 6 hours.',
  aclGroups: [],
  version: 1,
};

const binary = (type: string, data: object, headers: Record<string, string> = {}): RawMessage => ({
  topic: Topics.DocumentIngest.name,
  partition: 0,
  offset: '7',
  key: 'travel-policy',
  headers: {
    ce_id: 'evt-doc-1',
    ce_source: '/dms',
    ce_type: type,
    ce_specversion: '1.0',
    ce_time: '2026-01-01T00:00:00Z',
    ce_correlationid: 'travel-policy',
    ce_tenantid: 'acme',
    ce_schemaversion: '1',
    'content-type': 'application/json',
    ...headers,
  },
  value: Buffer.from(JSON.stringify(data)),
});

/** What a rejected message becomes, after the decoder refused it. */
function refused(message: RawMessage) {
  const decoded = decodeEvent(message, {
    maxEventBytes: 64 * 1024,
    logicalTopic: Topics.DocumentIngest.name,
  });
  if (decoded.ok) throw new Error('expected the decoder to refuse the message');
  return deadLetterEvents(message, decoded.rejection, setup);
}

describe('rejection of a document event', () => {
  it('an invalid DocumentSubmitted yields a valid DocumentFailed on documents.indexed.v1, no RequestFailed', () => {
    const { events } = refused(binary(DocumentSubmittedEvent.type, document));
    expect(events.map((e) => e.definition.type)).toEqual([
      'llmbus.event.dead-lettered',
      DocumentFailedEvent.type,
    ]);
    const failed = events[1];
    expect(failed.definition.topic).toBe(Topics.DocumentIndexed);
    expect(failed.definition.key(failed.payload)).toBe('travel-policy');
    expect(failed.payload as DocumentFailed).toEqual({
      documentId: 'travel-policy',
      collection: 'policies',
      code: 'invalid_payload',
      message: expect.stringContaining('contentType'),
      stage: 'retriever',
      details: [expect.stringContaining('contentType')],
    });
    expect(validatePayload(DocumentFailedEvent, failed.payload).ok).toBe(true);
  });

  it('refuses an effectiveDate no calendar has (2023-02-31, 2023-02-29) with a DocumentFailed naming the field, and takes 2024-02-29', () => {
    const valid = { ...document, contentType: 'text/plain' };
    for (const day of ['2023-02-31', '2023-02-29', '2024-04-31', '1900-02-29']) {
      const { events } = refused(binary(DocumentSubmittedEvent.type, { ...valid, effectiveDate: day }));
      expect(events[1].payload as DocumentFailed).toMatchObject({
        code: 'invalid_payload',
        message: expect.stringContaining(`effectiveDate must be a day of the calendar`),
        details: [
          expect.stringContaining(
            `effectiveDate must be a day of the calendar as an ISO 8601 date, YYYY-MM-DD ("${day}" is not`,
          ),
        ],
      });
    }
    for (const day of ['2024-02-29', '2000-02-29', '2023-12-31'])
      expect(validatePayload(DocumentSubmittedEvent, { ...valid, effectiveDate: day }).ok).toBe(true);
  });

  it('keys the failure by the correlation id when the payload has no usable document id, and leaves out a bad collection', () => {
    const { events } = refused(
      binary(DocumentSubmittedEvent.type, { ...document, documentId: 'bad id!', collection: 'no spaces' }),
    );
    expect(events[1].payload as DocumentFailed).toMatchObject({
      documentId: 'travel-policy',
      collection: undefined,
    });
  });

  it('reports a rejected DocumentDeleted the same way', () => {
    const { events } = refused(binary('llmbus.document.deleted', { documentId: 'travel-policy' }));
    expect(events.map((e) => e.definition.type)).toEqual([
      'llmbus.event.dead-lettered',
      DocumentFailedEvent.type,
    ]);
    expect(events[1].payload).toMatchObject({ documentId: 'travel-policy', code: 'invalid_payload' });
  });

  it('answers a message of unknown type on the ingest topic as a document, not as a request', () => {
    const { events } = refused(binary('llmbus.document.upserted', document));
    expect(events.map((e) => e.definition.type)).toEqual([
      'llmbus.event.dead-lettered',
      DocumentFailedEvent.type,
    ]);
    expect(events[1].payload).toMatchObject({ documentId: 'travel-policy', code: 'unknown_event_type' });
  });

  it('reports a handler failure after retries (a terminal rejection) of a document as DocumentFailed', () => {
    const rejection: Rejection = {
      code: 'invalid_payload',
      reason: 'DocumentSubmitted content has no text to index',
      errors: ['content: no text to index'],
      correlationId: 'travel-policy',
      tenant: 'acme',
      causeId: 'evt-doc-1',
      eventType: DocumentSubmittedEvent.type,
      documentId: 'travel-policy',
      collection: 'policies',
    };
    const { events } = deadLetterEvents(binary(DocumentSubmittedEvent.type, document), rejection, {
      ...setup,
      originTopic: 'llmbus.retriever.retry.1',
    });
    expect(events.map((e) => e.definition.type)).toEqual([
      'llmbus.event.dead-lettered',
      DocumentFailedEvent.type,
    ]);
    expect(events[1].payload).toEqual({
      documentId: 'travel-policy',
      collection: 'policies',
      code: 'invalid_payload',
      message: rejection.reason,
      stage: 'retriever',
      details: rejection.errors,
    });
  });

  it('tells nobody when the stage does not notify', () => {
    const { events } = deadLetterEvents(
      binary(DocumentSubmittedEvent.type, document),
      {
        code: 'invalid_payload',
        reason: 'x',
        errors: [],
        eventType: DocumentSubmittedEvent.type,
        documentId: 'd',
      },
      { ...setup, notifyRequester: false },
    );
    expect(events.map((e) => e.definition.type)).toEqual(['llmbus.event.dead-lettered']);
  });

  it('still answers a request event read elsewhere with a RequestFailed', () => {
    const { events } = deadLetterEvents(
      binary('llmbus.request.routed', {}),
      {
        code: 'invalid_payload',
        reason: 'x',
        errors: [],
        correlationId: 'req-1',
        eventType: 'llmbus.request.routed',
      },
      { ...setup, originTopic: Topics.Routed.name },
    );
    expect(events.map((e) => e.definition.type)).toEqual([
      'llmbus.event.dead-lettered',
      RequestFailedEvent.type,
    ]);
  });
});
