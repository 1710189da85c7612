import OpenAI from 'openai';
import { ModelError } from '../model-error';
import { mapOpenAIError } from './openai-error-mapping';

const context = { modelId: 'openai/gpt-4o-mini', model: 'gpt-4o-mini', baseURL: 'http://127.0.0.1:9/v1' };

function apiError(
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): unknown {
  return OpenAI.APIError.generate(status, { error: body }, undefined, new Headers(headers));
}

describe('mapOpenAIError', () => {
  it('maps 429 to retryable rate_limited with the Retry-After delay', () => {
    const error = mapOpenAIError(apiError(429, { message: 'slow down' }, { 'retry-after': '2' }), context);
    expect(error).toMatchObject({
      code: 'rate_limited',
      retryable: true,
      status: 429,
      retryAfterMs: 2000,
      provider: 'openai',
    });
  });

  it('maps an exhausted quota (429 insufficient_quota) to rate_limited that is not retryable', () => {
    const error = mapOpenAIError(apiError(429, { message: 'quota', code: 'insufficient_quota' }), context);
    expect(error).toMatchObject({ code: 'rate_limited', retryable: false });
    expect(error.message).toContain('OPENAI_API_KEY');
  });

  it.each([500, 502, 503])('maps %i to retryable unavailable', (status) => {
    expect(mapOpenAIError(apiError(status, { message: 'boom' }), context)).toMatchObject({
      code: 'unavailable',
      retryable: true,
      status,
    });
  });

  it('maps 400 to bad_request that is not retryable, keeping the upstream message', () => {
    const error = mapOpenAIError(
      apiError(400, { message: "Invalid schema for response_format 'triage'" }),
      context,
    );
    expect(error).toMatchObject({ code: 'bad_request', retryable: false });
    expect(error.message).toContain("Invalid schema for response_format 'triage'");
  });

  it('maps a content-filter 400 to content_filtered', () => {
    const error = mapOpenAIError(apiError(400, { message: 'filtered', code: 'content_filter' }), context);
    expect(error).toMatchObject({ code: 'content_filtered', retryable: false });
  });

  it('maps 401 to bad_request pointing at OPENAI_API_KEY', () => {
    const error = mapOpenAIError(apiError(401, { message: 'bad key' }), context);
    expect(error).toMatchObject({ code: 'bad_request', retryable: false });
    expect(error.message).toContain('check OPENAI_API_KEY');
  });

  it('maps 404 to bad_request naming the model and the variables', () => {
    const error = mapOpenAIError(apiError(404, { message: 'no such model' }), context);
    expect(error.message).toContain('gpt-4o-mini');
    expect(error.message).toContain('OPENAI_CHAT_MODEL');
  });

  it('maps connection timeouts to timeout and connection failures to unavailable', () => {
    expect(mapOpenAIError(new OpenAI.APIConnectionTimeoutError(), context)).toMatchObject({
      code: 'timeout',
      retryable: true,
    });
    const refused = mapOpenAIError(new OpenAI.APIConnectionError({ message: 'ECONNREFUSED' }), context);
    expect(refused).toMatchObject({ code: 'unavailable', retryable: true });
    expect(refused.message).toContain('OPENAI_BASE_URL');
  });

  it('maps a user abort to the reason the call scope recorded', () => {
    const timeout = new ModelError('timeout', 'deadline');
    expect(mapOpenAIError(new OpenAI.APIUserAbortError(), { ...context, abortReason: () => timeout })).toBe(
      timeout,
    );
    expect(mapOpenAIError(new OpenAI.APIUserAbortError(), context).code).toBe('aborted');
  });

  it('passes ModelErrors through and wraps anything else as non-retryable unavailable', () => {
    const own = new ModelError('malformed_output', 'bad json');
    expect(mapOpenAIError(own, context)).toBe(own);
    expect(mapOpenAIError(new TypeError('x is undefined'), context)).toMatchObject({
      code: 'unavailable',
      retryable: false,
    });
  });
});
