import type { ContextRetrieved } from '../events/context-retrieved';
import type { RequestFailed } from '../events/request-failed';
import type { RequestRouted } from '../events/request-routed';
import type { RequestSubmitted } from '../events/request-submitted';
import type { ResponseGenerated } from '../events/response-generated';
import type { Passage, RequestContext } from '../values';

/**
 * Valid payloads of the events a request passes through, sized like production ones: for the
 * schema-agreement test and the decode benchmark (bench/decode.bench.mjs). `passages` passages of
 * about 1,200 characters each.
 */
export function samplePayloads(passages = 8): {
  RequestSubmitted: RequestSubmitted;
  RequestRouted: RequestRouted;
  ContextRetrieved: ContextRetrieved;
  ResponseGenerated: ResponseGenerated;
  RequestFailed: RequestFailed;
} {
  const requester = { userId: 'u-17', groups: ['support', 'emea'] };
  const input = {
    subject: 'Refund for a duplicate charge',
    body: 'I was charged twice for my March invoice. Please refund the second charge. '.repeat(4),
    customer: { id: 'c-42', plan: 'pro' },
  };
  const context: RequestContext = {
    workflow: { id: 'support-ticket', version: 2 },
    requester,
    modelTier: 'small',
    budget: { maxOutputTokens: 512, maxCostUsd: 0.05 },
    replyTo: 'ticket-9001',
  };
  const passageList: Passage[] = Array.from({ length: passages }, (_, i) => ({
    id: `kb-billing:${i}`,
    documentId: 'kb-billing',
    collection: 'kb',
    title: 'Billing handbook',
    sourceUri: 'https://kb.example.com/billing',
    chunkIndex: i,
    text: `Section ${i}. Duplicate charges are refunded within five business days once confirmed. `.repeat(
      15,
    ),
    score: 0.9 - i * 0.05,
    sectionPath: 'Billing > Refunds',
  }));
  const usage = {
    modelId: 'small-instruct',
    provider: 'openai',
    promptTokens: 2400,
    completionTokens: 180,
    costUsd: 0.0012,
    latencyMs: 840,
  };
  return {
    RequestSubmitted: {
      requestId: 'req-0001',
      eventType: 'ticket.created',
      input: { subject: 'Refund', body: 'I was charged twice.' },
      requester,
      replyTo: 'ticket-9001',
    },
    RequestRouted: {
      requestId: 'req-0001',
      context,
      input,
      retrieval: { collections: ['kb'], topK: passages, query: input.subject },
    },
    ContextRetrieved: {
      requestId: 'req-0001',
      context,
      input,
      passages: passageList,
      withheldCount: 1,
      relevance: 0.82,
      answerable: true,
    },
    ResponseGenerated: {
      requestId: 'req-0001',
      context,
      input,
      passages: passageList,
      attempt: 1,
      prompt: { id: 'support-ticket-answer', version: 3 },
      renderedPrompt: passageList.map((p) => p.text).join('\n\n'),
      text: '{"category":"billing","answer":"Your duplicate charge will be refunded within five business days."}',
      output: {
        category: 'billing',
        answer: 'Your duplicate charge will be refunded within five business days.',
      },
      usage,
      callId: '3f1c9d2e-8b7a-4c5d-9e0f-1a2b3c4d5e6f',
    },
    RequestFailed: {
      requestId: 'req-0001',
      code: 'invalid_input',
      message: 'input.priority must be one of low, high',
      stage: 'router',
      details: ['input.priority: must be one of low, high'],
    },
  };
}
