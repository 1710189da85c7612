// The IT runbook's diagnostics against real parts: metrics_query on a Prometheus started by
// infra/prometheus.sh that scrapes the product's own /metrics (the stages' MetricsController and
// auth guard, reader key as a bearer token), and ticket_history on the PostgreSQL audit store,
// both through the ToolGate.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApiKeyRegistry } from '@llmbus/access';
import { PostgresAuditStore } from '@llmbus/audit';
import { busMetrics } from '@llmbus/bus';
import { RequestCompletedEvent, RequestSubmittedEvent, type EventEnvelope } from '@llmbus/contracts';
import { identityProviders, MetricsController } from '@llmbus/http-nest';
import {
  loadToolDirectory,
  openTools,
  productBuiltinTools,
  queryMetrics,
  ToolGate,
  type MetricsAnswer,
  type OpenedTools,
  type ToolOutcome,
} from '@llmbus/tools';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { databaseUrl } from '../support/env';

jest.setTimeout(120_000);

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const SCRAPE_KEY = `scrape-${randomUUID()}`;

/** What a stage serves on METRICS_PORT for /metrics: the ops controller behind the key guard. */
@Module({
  controllers: [MetricsController],
  providers: identityProviders(ApiKeyRegistry.parse(`${SCRAPE_KEY}:demo:reader`), undefined),
})
class MetricsOnlyModule {}

/** A port the OS just handed out and released, for a server started by another process. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Calls `probe` until it returns a value or the deadline passes (Prometheus scrapes every second). */
async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('IT runbook diagnostics on real Prometheus and PostgreSQL', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'llmbus-runbook-tools-'));
  let metricsApp: INestApplication;
  let metricsUrl: string;
  let prometheusEnv: NodeJS.ProcessEnv;
  let prometheusUrl: string;
  const schema = `runbook_tools_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let store: PostgresAuditStore;
  let tools: OpenedTools;
  let gate: ToolGate;

  beforeAll(async () => {
    metricsApp = await NestFactory.create(MetricsOnlyModule, { logger: false });
    await metricsApp.listen(0, '127.0.0.1');
    const metricsPort = (metricsApp.getHttpServer().address() as AddressInfo).port;
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    busMetrics.events.inc({ stage: 'generator', type: 'llmbus.request.routed', outcome: 'dead_lettered' }, 3);
    busMetrics.events.inc({ stage: 'validator', type: 'llmbus.response.generated', outcome: 'handled' }, 7);

    prometheusEnv = {
      ...process.env,
      LLMBUS_RUN_DIR: runDir,
      PROMETHEUS_PORT: String(await freePort()),
      PROMETHEUS_TARGETS: `127.0.0.1:${metricsPort}`,
      PROMETHEUS_SCRAPE_INTERVAL: '1s',
      PROMETHEUS_SCRAPE_KEY: SCRAPE_KEY,
    };
    const { stdout } = await run('bash', [join(ROOT, 'infra', 'prometheus.sh'), 'up'], {
      env: prometheusEnv,
    });
    prometheusUrl = stdout.trim();

    store = await PostgresAuditStore.open({ connectionString: databaseUrl(), schema, maxConnections: 2 });
    tools = await openTools(
      loadToolDirectory(undefined, {}),
      productBuiltinTools({ prometheusUrl, ticketReader: store }),
    );
    gate = new ToolGate(tools.registry);
  });

  afterAll(async () => {
    await tools?.close();
    await store?.close();
    if (prometheusEnv)
      await run('bash', [join(ROOT, 'infra', 'prometheus.sh'), 'down'], { env: prometheusEnv });
    await metricsApp?.close();
    rmSync(runDir, { recursive: true, force: true });
    const admin = new Client({ connectionString: databaseUrl() });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  const allowlist = { tools: ['metrics_query', 'ticket_history', 'log_search'], maxToolRounds: 3 };
  const call = (tenant: string, tool: string, args: Record<string, unknown>): Promise<ToolOutcome> =>
    gate.execute(
      { call: { id: randomUUID(), tool, arguments: args }, allowlist, tenant, round: 1 },
      new AbortController().signal,
    );
  const content = (outcome: ToolOutcome): unknown => {
    if (outcome.kind !== 'completed')
      throw new Error(`expected a completed call, got ${JSON.stringify(outcome)}`);
    return JSON.parse(outcome.result.content);
  };

  it('metrics_query reads the dead-lettered count Prometheus scraped from the product /metrics with the key', async () => {
    const answer = await eventually(async () => {
      const result = content(
        await call('demo', 'metrics_query', {
          query: 'sum by (stage) (orchestrator_events_total{outcome="dead_lettered"})',
        }),
      ) as MetricsAnswer;
      return result.series.length > 0 ? result : undefined;
    }, 'the first scrape of the product metrics');
    expect(answer).toMatchObject({
      resultType: 'vector',
      seriesTotal: 1,
      truncated: false,
      series: [{ metric: { stage: 'generator' } }],
    });
    expect(answer.series[0]?.value?.[1]).toBe('3');
    const up = content(await call('demo', 'metrics_query', { query: 'up{job="llmbus"}' })) as MetricsAnswer;
    expect(up.series.map((s) => s.value?.[1])).toEqual(['1']);
    // ...which it could only read with the key: the endpoint refuses a scrape without one.
    expect((await fetch(metricsUrl)).status).toBe(401);
  });

  it('metrics_query answers a range query with samples over the lookback', async () => {
    const answer = await eventually(async () => {
      const result = content(
        await call('demo', 'metrics_query', { query: 'up{job="llmbus"}', lookback: '5m', step: '1s' }),
      ) as MetricsAnswer;
      return (result.series[0]?.values?.length ?? 0) >= 2 ? result : undefined;
    }, 'two samples of up{job="llmbus"}');
    expect(answer.resultType).toBe('matrix');
    expect(answer.series[0]?.values?.every(([, value]) => value === '1')).toBe(true);
  });

  it("metrics_query passes Prometheus's parse error back as a failed call the model can read", async () => {
    const outcome = await call('demo', 'metrics_query', { query: 'sum(rate(orchestrator_events_total[5m]' });
    expect(outcome.kind).toBe('failed');
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(
      /Prometheus rejected the query \(bad_data\): .*parse error/,
    );
  });

  it('metrics_query caps the series of a broad query', async () => {
    const answer = await queryMetrics(
      { baseUrl: prometheusUrl, limits: { maxSeries: 2 } },
      { query: '{job="llmbus"}' },
      new AbortController().signal,
    );
    expect(answer.series).toHaveLength(2);
    expect(answer.seriesTotal).toBeGreaterThan(2);
    expect(answer.truncated).toBe(true);
  });

  it("ticket_history lists the calling tenant's past alerts from PostgreSQL and never another tenant's", async () => {
    const ids = { acme: `req-${randomUUID()}`, globex: `req-${randomUUID()}` };
    let offset = 0;
    const record = (envelope: EventEnvelope<Record<string, unknown>>) =>
      store.record(envelope, { topic: 'orchestration.request.v1', partition: 0, offset: String(++offset) });
    const submitted = (tenant: string, requestId: string, service: string) =>
      envelope(tenant, requestId, RequestSubmittedEvent.type, '/llmbus/router', {
        requestId,
        eventType: 'alert.fired',
        input: { alerts: [{ labels: { alertname: 'PaymentsDbPoolExhausted', service } }] },
        requester: { userId: 'alertmanager', groups: [] },
      });
    await record(submitted('acme', ids.acme, 'payments'));
    await record(
      envelope('acme', ids.acme, RequestCompletedEvent.type, '/llmbus/validator', {
        requestId: ids.acme,
        workflow: { id: 'it-runbook', version: 1 },
        output: { summary: 'payments restarted after approval; pool exhaustion stopped' },
        citations: [],
        attempts: 1,
        acceptedBy: 'validator',
        usage: {
          modelId: 'm',
          provider: 'test',
          promptTokens: 1,
          completionTokens: 1,
          costUsd: 0,
          latencyMs: 1,
        },
      }),
    );
    await record(submitted('globex', ids.globex, 'payments'));

    const answer = content(await call('acme', 'ticket_history', { query: 'PaymentsDbPoolExhausted' })) as {
      tickets: { requestId: string; status: string; workflow?: string; outcome?: string }[];
    };
    expect(answer.tickets.map((t) => t.requestId)).toEqual([ids.acme]);
    expect(answer.tickets[0]).toMatchObject({ status: 'completed', workflow: 'it-runbook.v1' });
    expect(answer.tickets[0]?.outcome).toContain('payments restarted after approval');

    const other = content(await call('globex', 'ticket_history', {})) as { tickets: { requestId: string }[] };
    expect(other.tickets.map((t) => t.requestId)).toEqual([ids.globex]);
    const spoofed = await call('globex', 'ticket_history', { tenant: 'acme' });
    expect(spoofed).toMatchObject({ kind: 'refused', code: 'invalid_arguments' });
  });
});

function envelope(
  tenantid: string,
  requestId: string,
  type: string,
  source: string,
  data: Record<string, unknown>,
): EventEnvelope<Record<string, unknown>> {
  return {
    id: randomUUID(),
    source,
    type,
    specversion: '1.0',
    time: new Date().toISOString(),
    correlationid: requestId,
    tenantid,
    schemaversion: 1,
    data,
  };
}
