const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);
const TRANSIENT_NAMES = new Set([
  'QdrantClientTimeoutError',
  'QdrantClientResourceExhaustedError',
  'AbortError',
  'TimeoutError',
]);

/** HTTP status of a Qdrant client error, when it carries one. */
export function qdrantStatus(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'status' in error) {
    const status = (error as { status: unknown }).status;
    if (typeof status === 'number') return status;
  }
  if (error instanceof Error) {
    // QdrantClientUnexpectedResponseError only has the status in its message.
    const match = /^Unexpected Response: (\d{3})/.exec(error.message);
    if (match) return Number(match[1]);
  }
  return undefined;
}

/** True for faults a later attempt may not see: server errors, rate limits, timeouts, refused or reset connections. */
export function isTransientQdrantError(error: unknown): boolean {
  const status = qdrantStatus(error);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    if (typeof e !== 'object') break;
    const { code, name, cause } = e as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (typeof name === 'string' && TRANSIENT_NAMES.has(name)) return true;
    // undici reports network failures as `TypeError: fetch failed` with the reason in `cause`.
    e = cause;
  }
  return false;
}

/** A short description of a Qdrant client error, with the server's message when there is one. */
export function describeQdrantError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const data = (error as { data?: unknown }).data;
  const serverMessage =
    typeof data === 'object' &&
    data !== null &&
    'status' in data &&
    typeof (data as { status: unknown }).status === 'object'
      ? JSON.stringify((data as { status: unknown }).status)
      : undefined;
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return [qdrantStatus(error), error.message + cause, serverMessage]
    .filter((p) => p !== undefined && p !== '')
    .join(' ');
}
