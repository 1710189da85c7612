import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** The `fetch` signature the `openai` client accepts as its `fetch` option. */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Statuses whose response has no body (a Response refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Redirects followed at most, as fetch does. */
const MAX_REDIRECTS = 20;

/**
 * A `fetch` for the `openai` client over `node:http`/`node:https` with keep-alive agents, for the
 * calls it makes (a method, headers, a string or byte body, an abort signal). The global fetch
 * (undici) builds WHATWG request, header and stream objects for every call: against a local
 * OpenAI-compatible server an embeddings call through the client cost ~0.55 ms of CPU with it and
 * ~0.38 ms with this (a chat call ~0.56 → ~0.40 ms), which a retriever, a router and a generator
 * each pay per request. The client keeps its retries, timeouts and error types: an aborted call
 * rejects with an `AbortError`, a connection failure with the socket's error (both as the global
 * fetch would, so the client retries or maps them the same way). What this does not do is left to
 * the global fetch, the same call handed on unchanged: request bodies that are streams or forms,
 * and URLs that are not http(s). Redirects are followed as fetch follows them (at most 20; 303,
 * and 301/302 after a POST, go on as a GET; another origin gets no Authorization). A JSON answer is read whole before the Response is
 * made; an event stream (`stream: true` calls) is passed on as it arrives. Compressed answers
 * (gzip, deflate, br) are decoded.
 */
export function createNodeHttpFetch(options: { readonly maxSockets?: number } = {}): {
  readonly fetch: FetchFunction;
  /** Closes the idle keep-alive sockets (idle ones never keep the process alive); calls in progress finish. */
  readonly close: () => void;
} {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets ?? 64,
    scheduling: 'lifo' as const,
    // With NODE_USE_ENV_PROXY set, the global fetch goes through HTTP(S)_PROXY (NO_PROXY honoured): so do these.
    ...(process.env.NODE_USE_ENV_PROXY ? { proxyEnv: process.env } : {}),
  };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);

  const fetch: FetchFunction = async (input, init = {}) => {
    const url = input instanceof Request ? undefined : new URL(String(input));
    const body = init.body;
    const plainBody =
      body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    if (url === undefined || !plainBody || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      return globalThis.fetch(input, init);
    }
    let target = url;
    let request: RequestInit = init;
    let sent = body;
    for (let redirects = 0; ; redirects++) {
      const response = await send(
        target,
        request,
        sent,
        target.protocol === 'https:' ? httpsAgent : httpAgent,
      );
      const location = response.headers.get('location');
      if (!REDIRECT_STATUSES.has(response.status) || location === null) return response;
      if (redirects >= MAX_REDIRECTS)
        throw new TypeError(`fetch failed: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, target);
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw new TypeError(`fetch failed: redirect to ${next.protocol} URL`);
      // As fetch does: 303 (and 301/302 after a POST) go on as a GET without a body; a redirect
      // to another origin drops the credentials.
      const toGet =
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && request.method === 'POST');
      const headers = new Headers(request.headers);
      if (toGet) for (const name of ['content-type', 'content-length']) headers.delete(name);
      if (next.origin !== target.origin) for (const name of ['authorization', 'cookie']) headers.delete(name);
      request = { ...request, headers, ...(toGet ? { method: 'GET', body: undefined } : {}) };
      sent = toGet ? undefined : sent;
      target = next;
    }
  };
  return {
    fetch,
    close: () => {
      for (const agent of [httpAgent, httpsAgent]) {
        for (const sockets of Object.values(agent.freeSockets))
          for (const socket of sockets ?? []) socket.destroy();
      }
    },
  };
}

function send(
  url: URL,
  init: RequestInit,
  body: string | Uint8Array | null | undefined,
  agent: HttpAgent,
): Promise<Response> {
  const headers: Record<string, string> = {};
  (init.headers instanceof Headers ? init.headers : new Headers(init.headers)).forEach((value, name) => {
    headers[name] = value;
  });
  headers['accept-encoding'] ??= 'gzip, deflate, br';
  if (body !== undefined && body !== null) headers['content-length'] = String(Buffer.byteLength(body));
  const signal = init.signal ?? undefined;
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      { method: init.method ?? 'GET', headers, agent },
      (message) => {
        signal?.removeEventListener('abort', onAbort);
        void respond(message, signal).then(resolve, reject);
      },
    );
    const onAbort = () => {
      const error = abortError(signal);
      request.destroy(error);
      reject(error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(signal?.aborted ? abortError(signal) : error);
    });
    request.end(body ?? undefined);
  });
}

/** The Response for an answer: read whole, or (an event stream) passed on as it arrives. */
async function respond(message: IncomingMessage, signal: AbortSignal | undefined): Promise<Response> {
  const status = message.statusCode ?? 0;
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] ?? '', raw[i + 1] ?? '');
  const decoded = decode(message);
  if (NULL_BODY_STATUSES.has(status) || REDIRECT_STATUSES.has(status)) {
    message.resume();
    return new Response(null, { status, statusText: message.statusMessage, headers });
  }
  const init = { status, statusText: message.statusMessage, headers };
  if ((headers.get('content-type') ?? '').includes('text/event-stream')) {
    const onAbort = () => decoded.destroy(abortError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    decoded.once('close', () => signal?.removeEventListener('abort', onAbort));
    return new Response(Readable.toWeb(decoded) as ReadableStream<Uint8Array>, init);
  }
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => decoded.destroy(abortError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    decoded.on('data', (chunk: Buffer) => chunks.push(chunk));
    decoded.once('end', resolve);
    decoded.once('error', (error) => reject(signal?.aborted ? abortError(signal) : error));
    decoded.once('close', () => {
      signal?.removeEventListener('abort', onAbort);
      if (!decoded.readableEnded)
        reject(
          signal?.aborted ? abortError(signal) : new Error('the connection closed before the answer ended'),
        );
    });
  });
  if (encodingOf(message) !== undefined) headers.delete('content-length');
  return new Response(Buffer.concat(chunks), init);
}

function encodingOf(message: IncomingMessage): string | undefined {
  const encoding = message.headers['content-encoding']?.trim().toLowerCase();
  return encoding === undefined || encoding === '' || encoding === 'identity' ? undefined : encoding;
}

/** The answer's bytes, decompressed as its content-encoding says (gzip, deflate, br). */
function decode(message: IncomingMessage): Readable {
  const encoding = encodingOf(message);
  if (encoding === undefined) return message;
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : undefined;
  if (decoder === undefined) return message;
  message.on('error', (error) => decoder.destroy(error));
  return message.pipe(decoder);
}

/** What fetch rejects with when its signal aborts: the signal's reason when it is an AbortError, else one. */
function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const error = new Error('This operation was aborted', { cause: reason });
  error.name = 'AbortError';
  return error;
}
