import { randomBytes } from 'node:crypto';

/** A traceparent for a new span: same trace as the parent when there is one, a new trace otherwise. */
export function childTraceparent(parent?: string): string {
  const spanId = randomBytes(8).toString('hex');
  const match = parent ? /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(parent) : null;
  if (match) return `00-${match[1]}-${spanId}-${match[2]}`;
  return `00-${randomBytes(16).toString('hex')}-${spanId}-01`;
}

/** The trace id part of a traceparent, for log lines. */
export function traceIdOf(traceparent?: string): string | undefined {
  return traceparent?.split('-')[1];
}
