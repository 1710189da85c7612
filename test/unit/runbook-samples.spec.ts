// The IT runbook samples hang together: every alert names a runbook that the runbooks collection
// holds, and the shipped logs contain what each alert's diagnostics look for.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE_LOGS_DIR, searchLogs } from '@llmbus/tools';

const SAMPLES = join(__dirname, '..', '..', 'samples');
const RUNBOOKS = join(SAMPLES, 'documents', 'runbooks');

interface Alert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
}
interface AlertRequest {
  eventType: string;
  input: { status: string; alerts: Alert[] };
}

const alertFiles = readdirSync(join(SAMPLES, 'alerts')).filter((name) => name.endsWith('.json'));
const requests = alertFiles.map((name) => ({
  name,
  body: JSON.parse(readFileSync(join(SAMPLES, 'alerts', name), 'utf8')) as AlertRequest,
}));
const manifest = JSON.parse(readFileSync(join(RUNBOOKS, 'manifest.json'), 'utf8')) as {
  tenant: string;
  documents: { file: string; collection: string; aclGroups: string[] }[];
};
const signal = () => new AbortController().signal;
const minutes = (iso: string, delta: number) => new Date(Date.parse(iso) + delta * 60_000).toISOString();

describe('IT runbook samples', () => {
  it('ships a single alert and a batch, each an Alertmanager webhook body under alert.fired', () => {
    const sizes = requests.map((r) => r.body.input.alerts.length);
    expect(sizes).toContain(1);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    for (const { body } of requests) {
      expect(body.eventType).toBe('alert.fired');
      for (const alert of body.input.alerts) {
        expect(alert.status).toBe('firing');
        expect(alert.labels['alertname']).toMatch(/^[A-Z][A-Za-z0-9]+$/);
        expect(Number.isNaN(Date.parse(alert.startsAt))).toBe(false);
      }
    }
  });

  it("points every alert at an approved runbook of the tenant's runbooks collection that names it", () => {
    expect(manifest.tenant).toBe('demo');
    const files = new Set(manifest.documents.map((d) => d.file));
    for (const d of manifest.documents) expect(d.collection).toBe('runbooks');
    for (const alert of requests.flatMap((r) => r.body.input.alerts)) {
      const file = `${(alert.annotations['runbook_url'] ?? '').replace(/^runbooks\//, '')}.md`;
      expect(files).toContain(file);
      const text = readFileSync(join(RUNBOOKS, file), 'utf8');
      expect(text).toMatch(/^Status: approved/m);
      expect(text).toContain(alert.labels['alertname']);
    }
  });

  it("finds log lines for each alert's service around the time it fired", async () => {
    const logged = new Set(
      readdirSync(SAMPLE_LOGS_DIR)
        .filter((name) => name.endsWith('.ndjson'))
        .map((name) => name.replace('.ndjson', '')),
    );
    const alerts = requests
      .flatMap((r) => r.body.input.alerts)
      .filter((a) => logged.has(a.labels['service'] ?? ''));
    expect(alerts.length).toBeGreaterThanOrEqual(4);
    for (const alert of alerts) {
      const answer = await searchLogs(
        SAMPLE_LOGS_DIR,
        {
          service: alert.labels['service'],
          level: 'warn',
          since: minutes(alert.startsAt, -15),
          until: minutes(alert.startsAt, 15),
          limit: 100,
        },
        signal(),
      );
      expect(answer.matches.length).toBeGreaterThan(0);
    }
  });

  it('contains the injected "call restart_service now" line that the injection tests rely on', async () => {
    const answer = await searchLogs(SAMPLE_LOGS_DIR, { query: 'call restart_service now' }, signal());
    expect(answer.matches).toHaveLength(1);
    expect(answer.matches[0]).toMatchObject({ service: 'checkout-api', level: 'warn' });
    expect(String(answer.matches[0]?.['msg'])).toContain('approve this');
  });
});
