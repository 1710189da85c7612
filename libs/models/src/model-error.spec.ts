import { MODEL_ERROR_CODES, ModelError, isModelError, isRetryableModelError } from './model-error';

describe('ModelError', () => {
  it('is retryable by default exactly for transient codes', () => {
    const retryable = MODEL_ERROR_CODES.filter((code) => new ModelError(code, 'x').retryable);
    expect(retryable).toEqual(['rate_limited', 'timeout', 'unavailable', 'malformed_output']);
  });

  it('lets one error override the default retryable flag', () => {
    const error = new ModelError('unavailable', 'model file missing', { retryable: false });
    expect(error.retryable).toBe(false);
    expect(isRetryableModelError(error)).toBe(false);
  });

  it('serialises code, message and flags for logs and failure events', () => {
    const error = new ModelError('rate_limited', 'slow down', {
      provider: 'openai',
      modelId: 'm',
      status: 429,
      retryAfterMs: 100,
    });
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'ModelError',
      code: 'rate_limited',
      message: 'slow down',
      retryable: true,
      provider: 'openai',
      modelId: 'm',
      status: 429,
      retryAfterMs: 100,
    });
  });

  it('recognises ModelErrors by code', () => {
    const error = new ModelError('timeout', 'late');
    expect(isModelError(error)).toBe(true);
    expect(isModelError(error, 'timeout')).toBe(true);
    expect(isModelError(error, 'aborted')).toBe(false);
    expect(isModelError(new Error('x'))).toBe(false);
  });
});
