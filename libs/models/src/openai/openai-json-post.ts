import OpenAI from 'openai';
import type { FetchFunction } from './node-http-fetch';

/** Where and how a non-streaming OpenAI call is sent (see postOpenAIJson). */
export interface OpenAIJsonPostOptions {
  readonly apiKey: string;
  /** The endpoint's base URL without a trailing slash (`https://api.openai.com/v1` for OpenAI). */
  readonly baseURL: string;
  /** Per attempt, until the answer's headers arrive, as the openai client's `timeout`. */
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly fetch: FetchFunction;
  /** Headers sent with every call besides the credentials (`OpenAI-Organization`, `OpenAI-Project`). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * POSTs `body` as JSON to `path` (`/embeddings`, `/chat/completions`) and resolves to the parsed
 * answer, as the `openai` client's `post` does for a call that does not stream, with the same
 * retries and the same error classes, so mapOpenAIError reads them unchanged: 408, 409, 429 and
 * 5xx answers (or what `x-should-retry` says) and connection failures are retried up to
 * `maxRetries` times after `retry-after-ms` / `Retry-After` (at most 60 s) or the client's backoff
 * (0.5 s doubling to 8 s, minus up to 25 % jitter); another status throws `OpenAI.APIError`
 * (`APIError.generate`: RateLimitError, BadRequestError…) with the answer's error body and headers;
 * a connection failure throws APIConnectionError, an attempt past `timeoutMs`
 * APIConnectionTimeoutError, and `signal` aborting (also during a retry's wait) APIUserAbortError.
 * The client builds its headers through several WHATWG Headers objects and generators per call:
 * ~9 % of a retriever's CPU in bench:pipeline's profile, for two headers.
 */
export async function postOpenAIJson(
  options: OpenAIJsonPostOptions,
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<unknown> {
  const url = `${options.baseURL}${path}`;
  const payload = JSON.stringify(body);
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/json',
    ...options.headers,
    authorization: `Bearer ${options.apiKey}`,
  };
  for (let retriesRemaining = options.maxRetries; ; retriesRemaining--) {
    if (signal?.aborted) throw new OpenAI.APIUserAbortError();
    const attempt = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort();
    }, options.timeoutMs);
    const onAbort = () => attempt.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let response: Response;
    try {
      response = await options.fetch(url, { method: 'POST', headers, body: payload, signal: attempt.signal });
    } catch (error) {
      if (signal?.aborted) throw new OpenAI.APIUserAbortError();
      if (retriesRemaining > 0) {
        await pause(retryDelayMs(undefined, retriesRemaining, options.maxRetries), signal);
        continue;
      }
      if (timedOut) throw new OpenAI.APIConnectionTimeoutError();
      throw new OpenAI.APIConnectionError({
        cause: error instanceof Error ? error : new Error(String(error)),
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    try {
      if (!response.ok) {
        if (retriesRemaining > 0 && shouldRetry(response)) {
          await response.body?.cancel();
          await pause(retryDelayMs(response.headers, retriesRemaining, options.maxRetries), signal);
          continue;
        }
        const text = await response.text();
        const json = safeJson(text);
        throw OpenAI.APIError.generate(
          response.status,
          json,
          json === undefined ? text : undefined,
          response.headers,
        );
      }
      const text = await response.text();
      const type = response.headers.get('content-type') ?? '';
      return type.includes('application/json') || type.includes('+json')
        ? (JSON.parse(text) as unknown)
        : text;
    } catch (error) {
      if (signal?.aborted && !(error instanceof OpenAI.APIError)) throw new OpenAI.APIUserAbortError();
      throw error;
    }
  }
}

/** As the openai client: the server's `x-should-retry` when it says, else 408, 409, 429 and 5xx. */
function shouldRetry(response: Response): boolean {
  const header = response.headers.get('x-should-retry');
  if (header === 'true') return true;
  if (header === 'false') return false;
  return (
    response.status === 408 || response.status === 409 || response.status === 429 || response.status >= 500
  );
}

/** As the openai client: `retry-after-ms`, else `Retry-After` (seconds or a date), else backoff. */
function retryDelayMs(headers: Headers | undefined, retriesRemaining: number, maxRetries: number): number {
  let delay: number | undefined;
  const ms = headers?.get('retry-after-ms');
  if (ms) {
    const parsed = parseFloat(ms);
    if (!Number.isNaN(parsed)) delay = parsed;
  }
  const after = headers?.get('retry-after');
  if (after && delay === undefined) {
    const seconds = parseFloat(after);
    delay = Number.isNaN(seconds) ? Date.parse(after) - Date.now() : seconds * 1000;
  }
  if (delay === undefined || !Number.isFinite(delay) || delay < 0 || delay > 60_000) {
    const retries = maxRetries - retriesRemaining;
    const seconds = Math.min(0.5 * 2 ** retries, 8);
    delay = seconds * (1 - Math.random() * 0.25) * 1000;
  }
  return delay;
}

/** Waits `ms`; rejects with APIUserAbortError as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new OpenAI.APIUserAbortError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new OpenAI.APIUserAbortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
