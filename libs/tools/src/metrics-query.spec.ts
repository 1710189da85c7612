import { durationSeconds, MetricsQueryError, queryMetrics } from './metrics-query';

const signal = () => new AbortController().signal;
const NOW = Date.parse('2026-11-28T09:40:00Z');

/** A fetch that records the request and answers with `body` (JSON) and `status`. */
function prometheus(body: unknown, status = 200) {
  const seen: { url: string; params: URLSearchParams }[] = [];
  const fetchImpl = ((url: URL, init: RequestInit) => {
    seen.push({ url: String(url), params: new URLSearchParams(String(init.body)) });
    return Promise.resolve(new Response(JSON.stringify(body), { status }));
  }) as unknown as typeof fetch;
  return { seen, options: { baseUrl: 'http://prom.test:9090', fetchImpl, now: () => NOW } };
}

const vector = (n: number) => ({
  status: 'success',
  data: {
    resultType: 'vector',
    result: Array.from({ length: n }, (_, i) => ({
      metric: { instance: `i${i}` },
      value: [NOW / 1000, '1'],
    })),
  },
});

describe('metrics_query', () => {
  it('sends an instant query to /api/v1/query with the PromQL as given', async () => {
    const { seen, options } = prometheus(vector(2));
    const answer = await queryMetrics(options, { query: 'up{job="llmbus"}' }, signal());
    expect(seen[0]?.url).toBe('http://prom.test:9090/api/v1/query');
    expect(seen[0]?.params.get('query')).toBe('up{job="llmbus"}');
    expect(seen[0]?.params.has('start')).toBe(false);
    expect(answer).toMatchObject({ resultType: 'vector', seriesTotal: 2, truncated: false });
    expect(answer.series[0]).toEqual({ metric: { instance: 'i0' }, value: [NOW / 1000, '1'] });
  });

  it('turns a lookback into a range query ending now, with a step of range/60', async () => {
    const { seen, options } = prometheus({ status: 'success', data: { resultType: 'matrix', result: [] } });
    await queryMetrics(options, { query: 'up', lookback: '15m' }, signal());
    expect(seen[0]?.url).toBe('http://prom.test:9090/api/v1/query_range');
    expect(Object.fromEntries(seen[0]?.params ?? [])).toEqual({
      query: 'up',
      start: String(NOW / 1000 - 900),
      end: String(NOW / 1000),
      step: '15',
    });
  });

  it('caps series and thins samples, keeping the latest', async () => {
    const values = Array.from({ length: 500 }, (_, i) => [i, String(i)]);
    const { options } = prometheus({
      status: 'success',
      data: { resultType: 'matrix', result: Array.from({ length: 30 }, () => ({ metric: {}, values })) },
    });
    const answer = await queryMetrics(
      { ...options, limits: { maxSeries: 3, maxPointsPerSeries: 10 } },
      { query: 'x', lookback: '1h' },
      signal(),
    );
    expect(answer.series).toHaveLength(3);
    expect(answer).toMatchObject({ seriesTotal: 30, truncated: true });
    expect(answer.series[0]?.values).toHaveLength(10);
    expect(answer.series[0]?.values?.at(-1)).toEqual([499, '499']);
    expect(answer.series[0]?.points).toBe(500);
  });

  it("passes Prometheus's own reason for a bad query on to the model", async () => {
    const { options } = prometheus(
      { status: 'error', errorType: 'bad_data', error: 'parse error: unexpected "}"' },
      400,
    );
    await expect(queryMetrics(options, { query: 'up}' }, signal())).rejects.toThrow(
      new MetricsQueryError('Prometheus rejected the query (bad_data): parse error: unexpected "}"'),
    );
  });

  it('refuses ranges beyond the limit before asking Prometheus', async () => {
    const { seen, options } = prometheus(vector(0));
    await expect(queryMetrics(options, { query: 'up', lookback: '2d' }, signal())).rejects.toThrow(
      'the range spans 172800s; at most 86400s may be queried',
    );
    expect(seen).toHaveLength(0);
  });

  it('reads durations in seconds', () => {
    expect([
      durationSeconds('30s'),
      durationSeconds('15m'),
      durationSeconds('2h'),
      durationSeconds('1d'),
    ]).toEqual([30, 900, 7200, 86_400]);
    expect(() => durationSeconds('5w')).toThrow('5w is not a duration');
  });
});
