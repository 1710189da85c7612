// The Grafana dashboards in infra/grafana/ query only metrics the services export, with labels
// those metrics carry: a renamed metric or label breaks this test, not a dashboard in production.
import { busMetrics } from '@llmbus/bus';
import { auditorMetrics } from '@llmbus/svc-auditor';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'prom-client';

const DIR = join(__dirname, '..', '..', 'infra', 'grafana');
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
]);

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels?: Panel[];
  templating?: { list?: { query?: string | { query?: string } }[] };
}

/** Label names of each exported metric, by every name a query can use (histograms: _bucket, _sum, _count). */
function exportedSeries(): Map<string, readonly string[]> {
  // Importing the metric holders registers them; name them so the imports are not elided.
  expect(Object.keys(busMetrics).length + Object.keys(auditorMetrics).length).toBeGreaterThan(0);
  const series = new Map<string, readonly string[]>();
  for (const metric of register.getMetricsAsArray()) {
    const { name, labelNames } = metric as unknown as { name: string; labelNames: string[] };
    const type = (metric as unknown as { type?: string }).type;
    if (type === 'histogram') {
      series.set(`${name}_bucket`, [...labelNames, 'le']);
      series.set(`${name}_sum`, labelNames);
      series.set(`${name}_count`, labelNames);
    } else {
      series.set(name, labelNames);
    }
  }
  return series;
}

/** The metric selectors of a PromQL expression: each metric name with the labels its matchers name. */
function selectors(expr: string): { metric: string; labels: string[] }[] {
  const found: { metric: string; labels: string[] }[] = [];
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const selector = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g;
  for (const match of withoutStrings.matchAll(selector)) {
    const labels = [...match[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]);
    found.push({ metric: match[1], labels });
  }
  // Bare metric names: identifiers left once matchers, ranges and groupings are gone, not called as functions.
  const bare = withoutStrings
    .replace(/[a-zA-Z_:][a-zA-Z0-9_:]*\s*\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  for (const match of bare.matchAll(/(?<![\w$.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)) {
    if (!KEYWORDS.has(match[1])) found.push({ metric: match[1], labels: [] });
  }
  return found;
}

function expressions(dashboard: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (target.expr) out.push({ where: `panel "${panel.title ?? '?'}"`, expr: target.expr });
      }
      walk(panel.panels);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating?.list ?? []) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const labelValues = query ? /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$/.exec(query) : null;
    if (labelValues) out.push({ where: 'a template variable', expr: labelValues[1] });
  }
  return out;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

describe('Grafana dashboards', () => {
  it('exist', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s: every PromQL expression names metrics and labels the services export', (file) => {
    const dashboard = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Dashboard;
    const series = exportedSeries();
    const problems: string[] = [];
    const all = expressions(dashboard);
    expect(all.length).toBeGreaterThan(0);
    for (const { where, expr } of all) {
      const used = selectors(expr);
      if (used.length === 0) problems.push(`${where}: no metric in ${expr}`);
      for (const { metric, labels } of used) {
        const known = series.get(metric);
        if (known === undefined) {
          problems.push(`${where}: ${metric} is not exported`);
          continue;
        }
        for (const label of labels.filter((l) => !known.includes(l))) {
          problems.push(`${where}: ${metric} has no label ${label}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  // Prometheus's own parser, where it is installed (Debian's prometheus package ships promtool).
  const promtool = spawnSync('promtool', ['--version']).status === 0;
  (promtool ? it.each(files) : it.skip.each(files))(
    "%s: every PromQL expression parses with promtool (Grafana's variables given sample values)",
    (file) => {
      const dashboard = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Dashboard;
      const sample = (expr: string) =>
        expr
          .replaceAll('$__rate_interval', '5m')
          .replaceAll('$__range', '1h')
          .replace(/\$(tenant|workflow)\b/g, '.*');
      const rules = expressions(dashboard)
        .filter(({ where }) => where.startsWith('panel'))
        .map(({ expr }, i) => ({ record: `dashboard:expr${i}`, expr: sample(expr) }));
      const path = join(mkdtempSync(join(tmpdir(), 'llmbus-dashboard-')), 'rules.json');
      writeFileSync(path, JSON.stringify({ groups: [{ name: file, rules }] }));
      const check = spawnSync('promtool', ['check', 'rules', path], { encoding: 'utf8' });
      expect(`${check.stdout}${check.stderr}`).toContain(`SUCCESS: ${rules.length} rules found`);
    },
  );

  it('the expression reader finds metrics and labels, and ignores functions and groupings', () => {
    expect(
      selectors('histogram_quantile(0.95, sum by (le, model) (rate(x_bucket{workflow=~"$w"}[5m]))) / y'),
    ).toEqual([
      { metric: 'x_bucket', labels: ['workflow'] },
      { metric: 'y', labels: [] },
    ]);
  });
});
