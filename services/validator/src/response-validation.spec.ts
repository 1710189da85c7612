import { EventRejectedError } from '@llmbus/bus';
import {
  EventEnvelope,
  RequestCompleted,
  RequestCompletedEvent,
  RequestFailed,
  RequestFailedEvent,
  ResponseGenerated,
  ReviewDecided,
  ReviewRequested,
} from '@llmbus/contracts';
import { WorkflowRegistry } from '@llmbus/workflows';
import pino from 'pino';
import { PendingReviewStore } from './pending-review.store';
import { ResponseValidation } from './response-validation';

const log = pino({ level: 'silent' });
const workflows = WorkflowRegistry.fromDirectory();
const usage = { modelId: 'm', provider: 'scripted', promptTokens: 10, completionTokens: 5, costUsd: 0, latencyMs: 3 };
const context = {
  workflow: { id: 'support-ticket', version: 1 },
  requester: { groups: [] },
  modelTier: 'small' as const,
  budget: { maxOutputTokens: 400, maxCostUsd: 0.02 },
};
const passages = [{ id: 'kb-1', documentId: 'd', collection: 'product-docs', title: 't', sourceUri: 'kb://1', chunkIndex: 0, text: 'x', score: 1 }];
const output = { category: 'billing', priority: 'low', reply: 'Refund issued.', citations: ['kb-1'], needsHuman: false, confidence: 0.2 };

function envelope<P>(id: string, data: P, tenantid = 'acme'): EventEnvelope<P> {
  return { id, source: '/t', type: 't', specversion: '1.0', time: new Date().toISOString(), correlationid: 'r1', tenantid, schemaversion: 1, data };
}

function generated(attempt: number, overrides: Partial<ResponseGenerated> = {}): ResponseGenerated {
  return {
    requestId: 'r1',
    context,
    input: { subject: 's', body: 'b' },
    passages,
    attempt,
    prompt: { id: 'support-ticket-reply', version: 1 },
    renderedPrompt: '[]',
    text: JSON.stringify(output),
    output,
    usage,
    ...overrides,
  };
}

function reviewRequested(): ReviewRequested {
  return { requestId: 'r1', context, input: {}, passages, reason: 'low confidence', violations: [], output, text: '', attempts: 2, usage };
}

describe('ResponseValidation', () => {
  let pending: PendingReviewStore;
  let validation: ResponseValidation;
  beforeEach(() => {
    pending = new PendingReviewStore();
    validation = new ResponseValidation(workflows, pending);
  });

  it('fails with validation_failed and the violations when the workflow fails on exhaustion', () => {
    const failing = new WorkflowRegistry([
      { ...workflows.get('support-ticket', 1), validation: { ...workflows.get('support-ticket', 1).validation, onExhaustion: 'fail' } },
    ]);
    const [event] = new ResponseValidation(failing, pending).onGenerated(generated(2), log);
    expect(event.definition).toBe(RequestFailedEvent);
    expect(event.payload as RequestFailed).toMatchObject({
      code: 'validation_failed',
      stage: 'validator',
      details: ['output.confidence: is 0.2, below the minimum of 0.3'],
    });
  });

  it('asks for a retry when the output is not JSON at all', () => {
    const [event] = validation.onGenerated(generated(1, { output: undefined, text: 'I think it is billing' }), log);
    expect(event.payload).toMatchObject({ attempt: 2, violations: ['output: the answer is not a JSON object'] });
  });

  it('rejects a generation for a workflow it does not know', () => {
    expect(() => validation.onGenerated(generated(1, { context: { ...context, workflow: { id: 'gone', version: 9 } } }), log)).toThrow(
      expect.objectContaining({ name: 'EventRejectedError', code: 'unknown_workflow' }),
    );
  });

  it('throws a retryable error for a decision on a review it never saw, and keeps tenants apart', () => {
    validation.onReviewRequested(envelope('rr-1', reviewRequested(), 'globex'));
    const decision = envelope<ReviewDecided>('d-1', { requestId: 'r1', reviewer: 'bob', decision: 'approve' });
    let error: unknown;
    try {
      validation.onReviewDecided(decision, log);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(EventRejectedError);
    expect((error as Error).message).toMatch(/no pending review for request r1/);
  });

  it('applies the first decision, re-emits it on redelivery, and ignores a later conflicting one', () => {
    validation.onReviewRequested(envelope('rr-1', reviewRequested()));
    const approve = envelope<ReviewDecided>('d-1', { requestId: 'r1', reviewer: 'bob', decision: 'approve' });
    const [first] = validation.onReviewDecided(approve, log);
    expect(first.definition).toBe(RequestCompletedEvent);
    expect(first.payload as RequestCompleted).toMatchObject({ acceptedBy: 'reviewer', citations: ['kb-1'], attempts: 2 });
    expect(validation.onReviewDecided(approve, log)).toHaveLength(1);
    const reject = envelope<ReviewDecided>('d-2', { requestId: 'r1', reviewer: 'eve', decision: 'reject' });
    expect(validation.onReviewDecided(reject, log)).toEqual([]);
    // A redelivered ReviewRequested does not reopen a decided review.
    validation.onReviewRequested(envelope('rr-1', reviewRequested()));
    expect(validation.onReviewDecided(reject, log)).toEqual([]);
  });

  it('rejects an edit decision without an output', () => {
    validation.onReviewRequested(envelope('rr-1', reviewRequested()));
    expect(() => validation.onReviewDecided(envelope<ReviewDecided>('d-1', { requestId: 'r1', reviewer: 'bob', decision: 'edit' }), log)).toThrow(
      expect.objectContaining({ code: 'invalid_payload', message: expect.stringMatching(/edited output/) }),
    );
  });
});
