import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EvalReport } from './metrics';

const RATES = [
  ['taskSuccess', 'task success'],
  ['schemaValidity', 'schema validity'],
  ['citationPrecision', 'citation precision'],
  ['citationRecall', 'citation recall'],
  ['abstentionCorrectness', 'abstention correctness'],
  ['unsupportedClaimRate', 'unsupported-claim rate'],
  ['acceptedButWrongRate', 'accepted but wrong'],
  ['escalationRate', 'escalation rate'],
] as const;

const escape = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** Chart.js's UMD build from node_modules, inlined so the report opens offline (nothing is loaded from the web). */
function chartJs(): string {
  const main = require.resolve('chart.js');
  const umd = readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
  return umd.replace(/<\/script/gi, '<\\/script');
}

/** JSON for an inline <script>: no `</script>` or HTML comment can end the block early. */
function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * A self-contained HTML page of an eval report: the figures per workflow version as a table and
 * charts (rates, outcomes, latency and cost per outcome) drawn by Chart.js embedded in the page,
 * then every item's verdict. Opens offline.
 */
export function renderHtmlReport(report: EvalReport): string {
  const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)} %`);
  const rows = report.versions
    .map(
      (v) =>
        `<tr><th>${escape(v.workflowVersion)}</th><td>${v.items}</td>${RATES.map(([k]) => `<td>${pct(v[k])}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const outcomeRows = report.versions
    .flatMap((v) =>
      Object.entries(v.outcomes).map(
        ([kind, f]) =>
          `<tr><th>${escape(v.workflowVersion)}</th><td>${kind}</td><td>${f.count}</td><td>${f.latencyMs.mean}</td><td>${f.latencyMs.p50}</td><td>${f.latencyMs.p95}</td><td>${f.costUsd.total.toFixed(6)}</td><td>${f.costUsd.mean.toFixed(6)}</td></tr>`,
      ),
    )
    .join('\n');
  const tagRows = report.versions
    .flatMap((v) =>
      Object.entries(v.byTag).map(
        ([tag, t]) =>
          `<tr><th>${escape(v.workflowVersion)}</th><td>${escape(tag)}</td><td>${t.items}</td><td>${pct(t.taskSuccess)}</td></tr>`,
      ),
    )
    .join('\n');
  const itemRows = report.items
    .map(
      (i) =>
        `<tr class="${i.success ? 'ok' : i.acceptedButWrong ? 'abw' : 'ko'}"><td>${escape(i.id)}</td><td>${escape(i.workflowVersion)}</td><td>${i.outcome}</td><td>${i.success ? 'yes' : 'no'}</td><td>${i.confidence ?? '–'}</td><td>${i.latencyMs}</td><td>${escape(i.citedDocuments.join(', '))}</td><td>${i.withheldCount ?? '–'}</td><td>${escape(i.tags.join(', '))}</td><td>${escape([...i.failures, i.reason ?? ''].filter(Boolean).join('; '))}</td></tr>`,
    )
    .join('\n');
  const data = {
    labels: RATES.map(([, label]) => label),
    versions: report.versions.map((v) => ({
      name: v.workflowVersion,
      rates: RATES.map(([k]) => v[k]),
      outcomes: v.outcomes,
    })),
  };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>llmbus eval: ${escape(report.workflow)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}tr.ko{background:#fff4e5}tr.abw{background:#fde2e2}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1.5rem}.chart{height:320px}
</style></head><body>
<h1>Eval: ${escape(report.workflow)}</h1>
<p>Dataset <code>${escape(report.dataset)}</code>, ${report.items.length} items, mode ${report.mode}, model <code>${escape(report.model)}</code>,
started ${escape(report.startedAt)}, took ${(report.durationMs / 1000).toFixed(1)} s.${report.note ? ` ${escape(report.note)}` : ''}</p>
<h2>Figures per workflow version</h2>
<table><tr><th>version</th><th>items</th>${RATES.map(([, l]) => `<th>${l}</th>`).join('')}</tr>
${rows}</table>
<div class="charts">
<div class="chart"><canvas id="rates"></canvas></div>
<div class="chart"><canvas id="outcomes"></canvas></div>
<div class="chart"><canvas id="latency"></canvas></div>
<div class="chart"><canvas id="cost"></canvas></div>
</div>
<h2>Cost and latency per outcome</h2>
<table><tr><th>version</th><th>outcome</th><th>items</th><th>latency mean ms</th><th>p50 ms</th><th>p95 ms</th><th>cost total USD</th><th>cost mean USD</th></tr>
${outcomeRows}</table>
<h2>Task success per tag</h2>
<table><tr><th>version</th><th>tag</th><th>items</th><th>task success</th></tr>
${tagRows}</table>
<h2>Items</h2>
<p>Red: accepted but wrong. Orange: not a task success.</p>
<table><tr><th>id</th><th>version</th><th>outcome</th><th>success</th><th>confidence</th><th>latency ms</th><th>cited documents</th><th>withheld</th><th>tags</th><th>why not / reason</th></tr>
${itemRows}</table>
<script>${chartJs()}</script>
<script>
const data = ${inlineJson(data)};
const kinds = ['completed', 'review', 'failed', 'timeout'];
const colours = ['#1b6ca8', '#e07b00', '#2e8b57', '#8e44ad', '#c0392b'];
const bars = (id, title, labels, datasets, max) => new Chart(document.getElementById(id), {
  type: 'bar', data: { labels, datasets },
  options: { maintainAspectRatio: false, plugins: { title: { display: true, text: title } }, scales: { y: { beginAtZero: true, max } } },
});
bars('rates', 'Rates per workflow version', data.labels,
  data.versions.map((v, i) => ({ label: v.name, data: v.rates, backgroundColor: colours[i % colours.length] })), 1);
bars('outcomes', 'Outcomes', kinds,
  data.versions.map((v, i) => ({ label: v.name, data: kinds.map((k) => v.outcomes[k]?.count ?? 0), backgroundColor: colours[i % colours.length] })));
bars('latency', 'Latency per outcome (mean ms)', kinds,
  data.versions.map((v, i) => ({ label: v.name, data: kinds.map((k) => v.outcomes[k]?.latencyMs.mean ?? 0), backgroundColor: colours[i % colours.length] })));
bars('cost', 'Cost per outcome (mean USD)', kinds,
  data.versions.map((v, i) => ({ label: v.name, data: kinds.map((k) => v.outcomes[k]?.costUsd.mean ?? 0), backgroundColor: colours[i % colours.length] })));
</script>
</body></html>
`;
}
