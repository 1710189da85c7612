import OpenAI from 'openai';
import { ModelError } from '../model-error';

export interface OpenAIErrorContext {
  readonly modelId: string;
  /** The model name sent to the endpoint. */
  readonly model: string;
  readonly baseURL: string;
  /** Called when the SDK reports a user abort: our call scope knows whether it was a timeout or the caller. */
  readonly abortReason?: () => ModelError | undefined;
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (headers === undefined) return undefined;
  const ms = Number(headers.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = headers.get('retry-after');
  if (raw === null) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function upstreamMessage(error: InstanceType<typeof OpenAI.APIError>): string {
  const body = error.error as { message?: unknown } | undefined;
  return typeof body?.message === 'string' ? body.message : error.message;
}

function isContentFilter(error: InstanceType<typeof OpenAI.APIError>): boolean {
  const body = JSON.stringify(error.error ?? {});
  return (
    error.code === 'content_filter' ||
    error.code === 'content_policy_violation' ||
    /ResponsibleAIPolicyViolation|content_filter/.test(body)
  );
}

/** Maps anything the openai SDK throws to a ModelError with a code, a retryable flag and what to fix. */
export function mapOpenAIError(error: unknown, context: OpenAIErrorContext): ModelError {
  if (error instanceof ModelError) return error;
  const base = { provider: 'openai', modelId: context.modelId, cause: error };
  if (error instanceof OpenAI.APIUserAbortError) {
    return context.abortReason?.() ?? new ModelError('aborted', `call to ${context.model} was aborted`, base);
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new ModelError(
      'timeout',
      `${context.baseURL} did not answer for model ${context.model} in time; raise OPENAI_TIMEOUT_MS or the request's timeoutMs`,
      base,
    );
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new ModelError(
      'unavailable',
      `cannot reach ${context.baseURL} (${error.message}); check OPENAI_BASE_URL and that the endpoint is up`,
      base,
    );
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status;
    const message = upstreamMessage(error);
    const withStatus = { ...base, status, retryAfterMs: retryAfterMs(error.headers) };
    if (status === 429) {
      const quota = error.code === 'insufficient_quota';
      return new ModelError(
        'rate_limited',
        quota
          ? `the account behind OPENAI_API_KEY has no quota left (${message}); top it up or use another key`
          : `${context.model} is rate limited (${message}); retry after backoff or lower concurrency`,
        { ...withStatus, retryable: !quota },
      );
    }
    if (status === 401 || status === 403) {
      return new ModelError(
        'bad_request',
        `${context.baseURL} refused the credentials (${status}: ${message}); check OPENAI_API_KEY`,
        withStatus,
      );
    }
    if (status === 404) {
      return new ModelError(
        'bad_request',
        `${context.baseURL} does not know model ${context.model} (${message}); check OPENAI_CHAT_MODEL / OPENAI_EMBEDDING_MODEL or the registry entry ${context.modelId}`,
        withStatus,
      );
    }
    if ((status === 400 || status === 422) && isContentFilter(error)) {
      return new ModelError(
        'content_filtered',
        `the provider's content filter rejected the request: ${message}`,
        withStatus,
      );
    }
    if (status === 400 && error.code === 'context_length_exceeded') {
      return new ModelError(
        'bad_request',
        `the prompt does not fit ${context.model}'s context window (${message}); truncate the context`,
        withStatus,
      );
    }
    if (status === 408)
      return new ModelError('timeout', `${context.model} timed out upstream (${message})`, withStatus);
    if (status === 409)
      return new ModelError(
        'unavailable',
        `${context.model} reported a conflict (${message}); retry`,
        withStatus,
      );
    if (status !== undefined && status >= 400 && status < 500) {
      return new ModelError(
        'bad_request',
        `${context.model} rejected the request (${status}: ${message}); fix the request`,
        withStatus,
      );
    }
    return new ModelError(
      'unavailable',
      `${context.baseURL} failed for ${context.model} (${status ?? 'no status'}: ${message}); retry later`,
      withStatus,
    );
  }
  return new ModelError(
    'unavailable',
    `unexpected failure calling ${context.model}: ${error instanceof Error ? error.message : String(error)}`,
    { ...base, retryable: false },
  );
}
