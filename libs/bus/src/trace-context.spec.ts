import { childTraceparent, traceIdOf } from './trace-context';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

describe('childTraceparent', () => {
  it('keeps the parent trace and flags and gives a new span id', () => {
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
    const child = childTraceparent(parent);
    const [, trace, span, flags] = TRACEPARENT.exec(child) ?? [];
    expect(trace).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(flags).toBe('00');
    expect(span).not.toBe('00f067aa0ba902b7');
  });

  it('starts a new sampled trace without a parent, or with one that is no traceparent', () => {
    for (const parent of [undefined, 'not-a-traceparent']) {
      const [, trace, , flags] = TRACEPARENT.exec(childTraceparent(parent)) ?? [];
      expect(trace).toMatch(/^[0-9a-f]{32}$/);
      expect(flags).toBe('01');
    }
  });

  it('never hands out the same id twice, across refills of its random pool', () => {
    // 2 KiB pool: 24 bytes a call refills it about every 85 calls; 2,000 calls cross it many times.
    const spans = new Set<string>();
    const traces = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const [, trace, span] = TRACEPARENT.exec(childTraceparent()) ?? [];
      spans.add(span);
      traces.add(trace);
    }
    expect(spans.size).toBe(2000);
    expect(traces.size).toBe(2000);
  });

  it('reads the trace id of a traceparent', () => {
    expect(traceIdOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBe(
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
    expect(traceIdOf(undefined)).toBeUndefined();
  });
});
