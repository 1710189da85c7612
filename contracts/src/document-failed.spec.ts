import {
  DocumentFailedEvent,
  eventByType,
  eventTypesOnTopic,
  FAILURE_CODES,
  Topics,
  validatePayload,
} from './index';

describe('DocumentFailed', () => {
  it('is registered on documents.indexed.v1 next to the other document outcomes, keyed by document id', () => {
    expect(eventByType('llmbus.document.failed')).toBe(DocumentFailedEvent);
    expect(eventTypesOnTopic(Topics.DocumentIndexed.name)).toEqual([
      'llmbus.document.indexed',
      'llmbus.document.removed',
      'llmbus.document.failed',
    ]);
    expect(eventTypesOnTopic(Topics.Result.name)).not.toContain('llmbus.document.failed');
    const payload = {
      documentId: 'travel-policy',
      collection: 'policies',
      code: 'invalid_payload',
      message:
        'DocumentSubmitted payload is invalid: contentType must be one of text/plain, text/markdown, text/html',
      stage: 'retriever',
      details: ['contentType: must be one of text/plain, text/markdown, text/html'],
    };
    expect(validatePayload(DocumentFailedEvent, payload).ok).toBe(true);
    expect(DocumentFailedEvent.key(payload as never)).toBe('travel-policy');
  });

  it('takes the failure codes of RequestFailed, an optional collection, and refuses a bad document id', () => {
    const base = { documentId: 'd-1', code: 'oversize', message: 'too big', stage: 'retriever', details: [] };
    expect(validatePayload(DocumentFailedEvent, base).ok).toBe(true);
    expect(FAILURE_CODES).toContain('oversize');
    const bad = validatePayload(DocumentFailedEvent, { ...base, documentId: 'no spaces', code: 'nope' });
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.errors.join('\n')).toMatch(/documentId[\s\S]*code|code[\s\S]*documentId/);
  });
});
