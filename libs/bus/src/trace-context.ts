import { randomFillSync } from 'node:crypto';

/** Random bytes drawn at once, then handed out a few at a time (one fill per 256 span ids). */
const POOL_BYTES = 2048;
let pool = Buffer.alloc(0);
let used = 0;

/**
 * `bytes` random bytes from the CSPRNG as lower-case hex. Taken from a pool filled 2 KiB at a time:
 * `randomBytes(8)` per published event (one new span id each) was 3-4 % of a stage's CPU, each
 * call a separate fill of a fresh buffer. Trace and span ids only need to be unpredictable enough
 * not to collide (W3C Trace Context), not secret.
 */
function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    used = 0;
  }
  const hex = pool.toString('hex', used, used + bytes);
  used += bytes;
  return hex;
}

/**
 * A traceparent for a new span: same trace as the parent when there is one, a new trace otherwise.
 * Span ids are 8 random bytes, trace ids 16 (W3C Trace Context, `00-<trace>-<span>-<flags>`).
 */
export function childTraceparent(parent?: string): string {
  const spanId = randomHex(8);
  const match = parent ? /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(parent) : null;
  if (match) return `00-${match[1]}-${spanId}-${match[2]}`;
  return `00-${randomHex(16)}-${spanId}-01`;
}

/** The trace id part of a traceparent, for log lines. */
export function traceIdOf(traceparent?: string): string | undefined {
  return traceparent?.split('-')[1];
}
