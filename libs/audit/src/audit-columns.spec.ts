import {
  ModelCallRecordedEvent,
  RequestCompletedEvent,
  ResponseGeneratedEvent,
  type EventEnvelope,
} from '@llmbus/contracts';
import { extractColumns, restatesUsage, stageOf } from './audit-columns';

const envelope = (source: string, data: unknown): EventEnvelope => ({
  id: 'e1',
  source,
  type: ResponseGeneratedEvent.type,
  specversion: '1.0',
  time: '2026-01-01T00:00:00.000Z',
  correlationid: 'r1',
  tenantid: 'acme',
  schemaversion: 1,
  data,
});

describe('audit columns', () => {
  it('counts the usage of each call record, and of outputs only when they name no recorded call', () => {
    const callId = '7d2d0e7c-3c1e-4f59-9a7e-2d1f7f3c9b10';
    expect(restatesUsage({ type: ModelCallRecordedEvent.type, data: { callId } })).toBe(false);
    expect(restatesUsage({ type: ResponseGeneratedEvent.type, data: { callId } })).toBe(true);
    expect(restatesUsage({ type: ResponseGeneratedEvent.type, data: {} })).toBe(false);
    expect(restatesUsage({ type: RequestCompletedEvent.type, data: {} })).toBe(true);
  });

  it('takes the stage from the last segment of a platform source, and nothing from a foreign one', () => {
    expect(stageOf('/llmbus/generator')).toBe('generator');
    expect(stageOf('/llmbus/ingress')).toBe('ingress');
    expect(stageOf('/helpdesk/zendesk')).toBeNull();
  });

  it('extracts model, tokens, cost and latency from a payload with usage', () => {
    const usage = {
      modelId: 'm',
      provider: 'p',
      promptTokens: 3,
      completionTokens: 4,
      costUsd: 0.5,
      latencyMs: 12.5,
    };
    expect(extractColumns(envelope('/llmbus/generator', { usage }))).toEqual({
      stage: 'generator',
      modelId: 'm',
      promptTokens: 3,
      completionTokens: 4,
      costUsd: 0.5,
      latencyMs: 12.5,
    });
  });

  it('leaves the usage columns empty when the payload has no usable usage', () => {
    const empty = {
      stage: 'router',
      modelId: null,
      promptTokens: null,
      completionTokens: null,
      costUsd: null,
      latencyMs: null,
    };
    expect(extractColumns(envelope('/llmbus/router', {}))).toEqual(empty);
    expect(extractColumns(envelope('/llmbus/router', { usage: { promptTokens: 3 } }))).toEqual(empty);
    expect(
      extractColumns(envelope('/llmbus/router', { usage: { modelId: 'm', promptTokens: 'many' } })),
    ).toMatchObject({
      modelId: 'm',
      promptTokens: null,
    });
  });
});
