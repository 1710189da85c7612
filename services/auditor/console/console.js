// The llmbus operator console: a page over the auditor's API (see /openapi.json). It keeps the
// reviewer's API key in this tab's sessionStorage and sends it only in the X-Api-Key header; the
// API decides what the key may see and do (tenant, roles), the page only shows its answers.
// Text from the trail (model output, passages) is untrusted: it is set as text, never as HTML.

import { formatTimeTick, formatUsd, timeAxisBounds } from './chart-format.js';

const KEY_ITEM = 'llmbus.console.apiKey';
const $ = (id) => document.getElementById(id);

/** An element with attributes (`on*` functions become listeners) and children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An API failure, with the API's own message and details. */
class ApiError extends Error {
  constructor(status, body) {
    const message = Array.isArray(body?.message) ? body.message.join('; ') : (body?.message ?? `HTTP ${status}`);
    super(message);
    this.status = status;
    this.details = Array.isArray(body?.details) ? body.details : [];
  }
}

/** Calls the audit API with the session's key; a 401 ends the session. */
async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY_ITEM);
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    headers: { 'X-Api-Key': key ?? '', ...(options.body ? { 'Content-Type': 'application/json' } : {}) },
    body: options.body ? JSON.stringify(options.body) : undefined,
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await response.text();
  const body = text ? JSON.parse(text) : undefined;
  if (response.status === 401 && !options.login) {
    logout('Your key was refused (401): log in again.');
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

const enc = encodeURIComponent;
const fmtTime = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
const fmtUsd = (n) => (typeof n === 'number' ? `$${n.toFixed(6)}` : '');
const fmtMs = (n) => (typeof n === 'number' ? `${Math.round(n)} ms` : '');
const shortType = (type) => type.replace(/^llmbus\./, '');
const stageOf = (source) => (typeof source === 'string' ? source.split('/').filter(Boolean).pop() : '');
const json = (value) => h('pre', {}, JSON.stringify(value, null, 2));
const errorLine = (error) =>
  h('p', { class: 'error', role: 'alert' }, `${error.status ? `${error.status}: ` : ''}${error.message}`, error.details?.length && !error.details.every((d) => error.message.includes(d)) ? `\n- ${error.details.join('\n- ')}` : '');

let principal;

function logout(message) {
  sessionStorage.removeItem(KEY_ITEM);
  principal = undefined;
  $('nav').hidden = true;
  $('who').hidden = true;
  $('view').hidden = true;
  $('view').replaceChildren();
  $('login').hidden = false;
  $('login-error').textContent = message ?? '';
}

async function login(key) {
  sessionStorage.setItem(KEY_ITEM, key);
  try {
    principal = await api('/v1/principal', { login: true });
  } catch (error) {
    sessionStorage.removeItem(KEY_ITEM);
    throw error;
  }
  $('login').hidden = true;
  $('nav').hidden = false;
  $('who').hidden = false;
  $('who-text').textContent = `${principal.id} · tenant ${principal.tenantId} · ${principal.roles.join(', ')}`;
  $('view').hidden = false;
  await route();
}

/** Counts route() calls: a view whose data arrives after the location changed again is dropped. */
let routeGeneration = 0;

/** Renders the view the location hash names; only the latest navigation's view is shown. */
async function route() {
  if (!principal) return;
  const generation = ++routeGeneration;
  const [, view = 'reviews', ...rest] = location.hash.split('/');
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === view);
  const target = $('view');
  target.replaceChildren(h('p', { class: 'meta' }, 'Loading…'));
  let nodes;
  try {
    const render = VIEWS[view] ?? VIEWS.reviews;
    nodes = await render(rest.map(decodeURIComponent));
  } catch (error) {
    nodes = [errorLine(error)];
  }
  // A slower answer for a view left meanwhile (the review queue loading at login, then a link) must
  // not replace the view the reviewer went to.
  if (generation === routeGeneration) target.replaceChildren(...nodes);
}

// ---- review queue ---------------------------------------------------------------------------

/**
 * What a pending review asks a human to decide, generic over its kind: an `output` review edits
 * the output (checked against the workflow's output schema by the API), a `tool-approval` edits
 * the call's arguments (checked against the tool's schema before it runs); any other kind shows
 * its event and takes approve or reject.
 */
function reviewCard(pending) {
  const data = pending.review.envelope.data ?? {};
  const kind = typeof data.kind === 'string' ? data.kind : 'output';
  const approval = kind === 'tool-approval' ? (data.toolApproval ?? {}) : undefined;
  const status = h('div', { class: 'status' });
  const comment = h('input', { type: 'text', name: 'comment', placeholder: 'Comment (optional)', 'aria-label': 'Comment' });
  // What an edit replaces, by kind: the output, or the tool call's arguments.
  const editField = kind === 'output' ? 'output' : approval ? 'arguments' : undefined;
  const editable = editField
    ? h('textarea', { name: editField, 'aria-label': editField === 'output' ? 'Output' : 'Arguments', spellcheck: 'false' }, JSON.stringify((editField === 'output' ? data.output : approval.arguments) ?? {}, null, 2))
    : undefined;
  const decide = async (decision) => {
    status.replaceChildren();
    const body = { decision };
    // A tool decision names the exact call shown, so a stale page never decides another call.
    if (approval) body.callHash = approval.callHash;
    if (comment.value.trim()) body.comment = comment.value.trim();
    if (decision === 'edit') {
      try {
        body[editField] = JSON.parse(editable.value);
      } catch (error) {
        status.append(h('p', { class: 'error', role: 'alert' }, `The ${editField} is not valid JSON: ${error.message}`));
        return;
      }
    }
    try {
      const result = await api(`/v1/reviews/${enc(pending.requestId)}/decision`, { method: 'POST', body });
      card.dataset.decided = decision;
      for (const b of card.querySelectorAll('button')) b.disabled = true;
      status.append(
        h('p', { class: 'ok', role: 'status' }, `Decided: ${result.decision} (event ${result.eventId}). `, h('a', { href: `#/requests/${enc(pending.requestId)}` }, 'Timeline')),
      );
    } catch (error) {
      status.append(errorLine(error));
    }
  };
  const card = h(
    'article',
    { class: 'card review', dataset: { requestId: pending.requestId, kind } },
    h('h3', {}, h('a', { href: `#/requests/${enc(pending.requestId)}` }, pending.requestId), ' ', h('span', { class: 'badge' }, kind)),
    h('p', { class: 'meta' }, `requested ${fmtTime(pending.review.envelope.time)} · workflow ${data.context?.workflow?.id ?? '?'}@${data.context?.workflow?.version ?? '?'} · attempts ${data.attempts ?? '?'}`),
    approval
      ? h('p', {}, h('strong', {}, 'Tool: '), h('code', { class: 'tool' }, approval.tool ?? '?'), approval.expiresAt ? ` · decide before ${fmtTime(approval.expiresAt)}` : '')
      : undefined,
    approval && Array.isArray(approval.injectedInstructions) && approval.injectedInstructions.length
      ? h(
          'div',
          { class: 'injected', role: 'alert' },
          h('strong', {}, 'Warning: text in the tool results reads as instructions: '),
          h('ul', {}, approval.injectedInstructions.map((i) => h('li', {}, h('code', {}, i.tool ?? '?'), ` (call ${i.callId ?? '?'}): "${i.excerpt ?? ''}"`))),
          h('p', { class: 'meta' }, 'This call may have been asked for because a tool said so; check it against the alert before approving.'),
        )
      : undefined,
    approval
      ? h('p', { class: 'reason' }, h('strong', {}, "The model's reason: "), typeof approval.reason === 'string' && approval.reason !== '' ? approval.reason : h('em', { class: 'absent' }, 'no reason given'))
      : data.reason ? h('p', {}, h('strong', {}, 'Reason: '), data.reason) : undefined,
    data.violations?.length ? h('ul', { class: 'violations' }, data.violations.map((v) => h('li', {}, v))) : undefined,
    data.input ? h('details', {}, h('summary', {}, 'Input'), json(data.input)) : undefined,
    data.passages?.length ? h('details', {}, h('summary', {}, `Passages (${data.passages.length})`), passageList(data.passages)) : undefined,
    editable
      ? h('div', {}, h('label', {}, editField === 'output' ? 'Output (edit, then "Save edit"; the API checks it against the workflow\'s output schema)' : 'Arguments (edit, then "Save edit"; checked against the tool\'s schema before the call runs)'), editable)
      : h('details', {}, h('summary', {}, 'Review event'), json(data)),
    h('p', {}, comment),
    h(
      'p',
      {},
      h('button', { type: 'button', name: 'approve', onclick: () => decide('approve') }, 'Approve'),
      editable ? h('button', { type: 'button', name: 'edit', onclick: () => decide('edit') }, 'Save edit') : undefined,
      h('button', { type: 'button', name: 'reject', onclick: () => decide('reject') }, 'Reject'),
    ),
    status,
  );
  return card;
}

function passageList(passages) {
  return h('ul', {}, passages.map((p) => h('li', {}, h('code', {}, p.id), ` ${p.title ?? ''} (score ${typeof p.score === 'number' ? p.score.toFixed(3) : '?'})`, h('pre', {}, p.text ?? ''))));
}

async function reviewsView() {
  const { reviews } = await api('/v1/reviews');
  return [
    h('h2', {}, `Review queue (${reviews.length})`),
    reviews.length === 0 ? h('p', { class: 'meta' }, 'Nothing waits for a decision.') : undefined,
    ...reviews.map(reviewCard),
  ].filter(Boolean);
}

// ---- requests and timeline ------------------------------------------------------------------

async function requestsView(args) {
  if (args[0]) return timelineView(args[0]);
  const page = await api('/v1/requests?limit=100');
  return [
    h('h2', {}, 'Requests'),
    h(
      'table',
      { id: 'requests' },
      h('thead', {}, h('tr', {}, ['Request', 'Status', 'First event', 'Last event', 'Events'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        page.requests.map((r) =>
          h(
            'tr',
            { dataset: { requestId: r.requestId } },
            h('td', {}, h('a', { href: `#/requests/${enc(r.requestId)}` }, r.requestId)),
            h('td', {}, h('span', { class: `badge ${r.status}` }, r.status)),
            h('td', {}, fmtTime(r.firstEventAt)),
            h('td', {}, `${fmtTime(r.lastEventAt)} (${shortType(r.lastEventType)})`),
            h('td', { class: 'num' }, r.events),
          ),
        ),
      ),
    ),
  ];
}

/**
 * Whether an event's usage is a billed call, counted once: a ModelCallRecorded is the billing
 * record; outputs, reviews and results restating a call's usage are not counted again.
 */
function billed(record, events) {
  const e = record.envelope;
  if (!usageOf(e.data) || e.type.endsWith('request.completed') || e.type.endsWith('review.requested')) return false;
  if (e.type.endsWith('model.call-recorded') || !e.data.callId) return true;
  return !events.some((r) => r.envelope.type.endsWith('model.call-recorded') && r.envelope.data?.callId === e.data.callId);
}

/** The facts of one event worth a column: model, tokens, cost, latency. */
function usageOf(data) {
  const usage = data?.usage;
  return usage && typeof usage === 'object' ? usage : undefined;
}

/** What one event says beyond its type: passages, citations, tool calls, validation, decisions. */
function eventDetails(type, data) {
  if (!data || typeof data !== 'object') return [];
  if (data.removedPayload) return [h('p', { class: 'meta' }, `payload removed by retention (${data.removedPayload.class})`)];
  const parts = [];
  if (data.passages?.length && type.endsWith('context.retrieved'))
    parts.push(h('details', {}, h('summary', {}, `${data.passages.length} passages${typeof data.relevance === 'number' ? `, relevance ${data.relevance.toFixed(2)}` : ''}`), passageList(data.passages)));
  if (data.citations?.length) parts.push(h('div', {}, h('strong', {}, 'Citations: '), data.citations.join(', ')));
  // Tool-loop events carry every round so far: the latest round's results, else its calls.
  const round = Array.isArray(data.rounds) ? data.rounds[data.rounds.length - 1] : undefined;
  const calls = data.toolApproval
    ? [data.toolApproval]
    : round
      ? (round.results?.length ? round.results : round.calls)
      : (data.results ?? data.calls ?? data.toolCalls);
  if (Array.isArray(calls) && calls.length) {
    parts.push(
      h('div', { class: 'tool-calls' }, h('strong', {}, 'Tool calls: '), calls.map((c) => `${c.tool ?? c.name ?? '?'}${c.status ? ` (${c.status}${c.reviewer ? ` by ${c.reviewer}` : ''})` : ''}`).join(', ')),
      h('details', {}, h('summary', {}, 'Tool calls and results'), json(calls)),
    );
  }
  // Models of the fallback chain that failed before the one that answered.
  const fallbacks = type.endsWith('model.call-recorded') || type.endsWith('response.generated') ? data.usage?.fallbackAttempts : undefined;
  if (Array.isArray(fallbacks) && fallbacks.length) {
    parts.push(h('div', { class: 'fallbacks' }, h('strong', {}, 'Fallbacks: '), [...fallbacks.map((a) => `${a.modelId ?? '?'} (${a.provider ?? '?'}, ${a.code ?? '?'}${a.skipped ? ', skipped' : `, ${a.latencyMs ?? '?'} ms`})`), `answered by ${data.usage.modelId ?? '?'}`].join(' → ')));
  }
  if (data.assessment) {
    const signals = (data.assessment.signals ?? []).map((s) => `${s.name ?? s.signal ?? '?'} ${typeof s.score === 'number' ? s.score.toFixed(2) : ''}`).join(', ');
    parts.push(h('div', {}, h('strong', {}, 'Validation: '), `confidence ${data.assessment.confidence?.toFixed?.(2) ?? '?'}${signals ? ` · ${signals}` : ''}`));
  }
  if (data.violations?.length) parts.push(h('ul', { class: 'violations' }, data.violations.map((v) => h('li', {}, v))));
  if (data.decision) parts.push(h('div', {}, h('strong', {}, 'Decision: '), `${data.decision} by ${data.reviewer ?? '?'}${data.comment ? `: ${data.comment}` : ''}`));
  if (data.reason) parts.push(h('div', {}, h('strong', {}, 'Reason: '), data.reason, data.reasonCode ? ` (${data.reasonCode})` : ''));
  if (data.message && data.code) parts.push(h('div', { class: 'error' }, `${data.code}: ${data.message}`));
  if (data.output) parts.push(h('details', {}, h('summary', {}, 'Output'), json(data.output)));
  if (data.acceptedBy) parts.push(h('div', {}, `accepted by ${data.acceptedBy}`));
  parts.push(h('details', {}, h('summary', {}, 'Event'), json(data)));
  return parts;
}

async function timelineView(requestId) {
  const { events } = await api(`/v1/requests/${enc(requestId)}/trail`);
  const start = Date.parse(events[0]?.envelope.time);
  let previous = start;
  let cost = 0;
  const rows = events.map((record) => {
    const e = record.envelope;
    const at = Date.parse(e.time);
    const step = at - previous;
    previous = at;
    const usage = usageOf(e.data);
    if (billed(record, events)) cost += usage.costUsd ?? 0;
    return h(
      'tr',
      { class: 'event', dataset: { type: e.type } },
      h('td', {}, fmtTime(e.time), h('div', { class: 'meta' }, `+${at - start} ms (step ${step} ms)`)),
      h('td', {}, stageOf(e.source)),
      h('td', {}, shortType(e.type), e.attempt ? h('div', { class: 'meta' }, `attempt ${e.attempt}`) : undefined),
      h('td', {}, usage?.modelId ?? ''),
      h('td', { class: 'num' }, usage ? `${usage.promptTokens} / ${usage.completionTokens}` : ''),
      h('td', { class: 'num' }, usage ? fmtUsd(usage.costUsd) : ''),
      h('td', { class: 'num' }, usage ? fmtMs(usage.latencyMs) : ''),
      h('td', {}, ...eventDetails(e.type, e.data)),
      h('td', { class: 'meta' }, record.chain ? `#${record.chain.seq} ${record.chain.hash.slice(0, 12)}…` : ''),
    );
  });
  return [
    h('h2', {}, `Timeline of ${requestId}`),
    h('p', { class: 'meta' }, `${events.length} events · ${events.length ? `${previous - start} ms end to end` : ''} · model cost ${fmtUsd(cost)}`),
    h(
      'table',
      { id: 'timeline' },
      h('thead', {}, h('tr', {}, ['Time', 'Stage', 'Event', 'Model', 'Tokens in/out', 'Cost', 'Latency', 'Details', 'Chain'].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows),
    ),
  ];
}

// ---- cost and latency -------------------------------------------------------------------------

const charts = [];
function chart(canvas, config) {
  // Chart.js (served by the auditor from node_modules) is loaded with `defer` before this module runs.
  const instance = new window.Chart(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options } });
  charts.push(instance);
  return instance;
}

/** Model calls of the latest requests, from their trails: time, workflow, stage, model, cost, latency. */
async function recentCalls(limit) {
  const { requests } = await api(`/v1/requests?limit=${limit}`);
  const trails = await Promise.all(requests.map((r) => api(`/v1/requests/${enc(r.requestId)}/trail`)));
  const calls = [];
  for (const { events } of trails) {
    const workflow = events.map((r) => r.envelope.data?.context?.workflow ?? r.envelope.data?.workflow).find(Boolean);
    for (const record of events) {
      if (!billed(record, events)) continue;
      const e = record.envelope;
      const usage = usageOf(e.data);
      calls.push({ at: Date.parse(e.time), workflow: workflow ? `${workflow.id}@${workflow.version}` : '?', stage: stageOf(e.source), model: usage.modelId, costUsd: usage.costUsd ?? 0, latencyMs: usage.latencyMs ?? 0 });
    }
  }
  return { calls: calls.sort((a, b) => a.at - b.at), requests: requests.length };
}

/** A cost chart's tooltip line: the dataset and the amount in USD. */
const usdLabel = (item) => `${item.dataset.label}: ${formatUsd(item.parsed.y)}`;

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f'];
const HOUR = 3_600_000;

async function costsView() {
  while (charts.length) charts.pop().destroy();
  const [{ steps }, { calls, requests }] = await Promise.all([api('/v1/costs'), recentCalls(100)]);
  const byStep = h('canvas', { id: 'chart-cost-by-step', role: 'img', 'aria-label': 'Cost by step and model' });
  const overTime = h('canvas', { id: 'chart-cost-over-time', role: 'img', 'aria-label': 'Cost per hour by workflow' });
  const latency = h('canvas', { id: 'chart-latency', role: 'img', 'aria-label': 'Latency of model calls by model' });
  const nodes = [
    h('h2', {}, 'Cost and latency'),
    h('div', { class: 'charts' }, h('div', { class: 'chart' }, byStep), h('div', { class: 'chart' }, overTime), h('div', { class: 'chart' }, latency)),
    h('h3', {}, 'By step and model (all time)'),
    h(
      'table',
      { id: 'costs' },
      h('thead', {}, h('tr', {}, ['Step', 'Stage', 'Model', 'Events', 'Tokens in', 'Tokens out', 'Cost', 'Avg latency', 'Max latency'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        steps.map((s) =>
          h('tr', {}, h('td', {}, shortType(s.type)), h('td', {}, s.stage ?? ''), h('td', {}, s.modelId), h('td', { class: 'num' }, s.events), h('td', { class: 'num' }, s.promptTokens), h('td', { class: 'num' }, s.completionTokens), h('td', { class: 'num' }, fmtUsd(s.costUsd)), h('td', { class: 'num' }, fmtMs(s.avgLatencyMs)), h('td', { class: 'num' }, fmtMs(s.maxLatencyMs))),
        ),
      ),
    ),
    h('p', { class: 'meta' }, `Charts over time cover the model calls of the latest ${requests} requests (${calls.length} calls).`),
  ];
  // The canvases must be in the document before Chart.js sizes them.
  queueMicrotask(() => {
    const models = [...new Set(steps.map((s) => s.modelId))];
    const labels = [...new Set(steps.map((s) => `${shortType(s.type)}${s.stage ? ` (${s.stage})` : ''}`))];
    chart(byStep, {
      type: 'bar',
      data: {
        labels,
        datasets: models.map((model, i) => ({
          label: model,
          backgroundColor: PALETTE[i % PALETTE.length],
          data: labels.map((label) => steps.filter((s) => s.modelId === model && `${shortType(s.type)}${s.stage ? ` (${s.stage})` : ''}` === label).reduce((n, s) => n + s.costUsd, 0)),
        })),
      },
      options: {
        plugins: { title: { display: true, text: 'Cost (USD) by step and model' }, tooltip: { callbacks: { label: usdLabel } } },
        scales: { x: { stacked: true }, y: { stacked: true, ticks: { callback: formatUsd } } },
      },
    });
    const workflows = [...new Set(calls.map((c) => c.workflow))];
    const hours = [...new Set(calls.map((c) => Math.floor(c.at / HOUR) * HOUR))].sort((a, b) => a - b);
    chart(overTime, {
      type: 'line',
      data: {
        labels: hours.map((t) => fmtTime(new Date(t).toISOString()).slice(0, 16)),
        datasets: workflows.map((w, i) => ({
          label: w,
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: PALETTE[i % PALETTE.length],
          data: hours.map((t) => calls.filter((c) => c.workflow === w && Math.floor(c.at / HOUR) * HOUR === t).reduce((n, c) => n + c.costUsd, 0)),
        })),
      },
      options: {
        plugins: { title: { display: true, text: 'Cost (USD) per hour by workflow' }, tooltip: { callbacks: { label: usdLabel } } },
        scales: { y: { beginAtZero: true, ticks: { callback: formatUsd } } },
      },
    });
    const callModels = [...new Set(calls.map((c) => `${c.model} (${c.stage})`))];
    // The time axis spans the data (a single call does not get an axis hours wide).
    const bounds = timeAxisBounds(calls.map((c) => c.at));
    chart(latency, {
      type: 'scatter',
      data: {
        datasets: callModels.map((m, i) => ({
          label: m,
          backgroundColor: PALETTE[i % PALETTE.length],
          data: calls.filter((c) => `${c.model} (${c.stage})` === m).map((c) => ({ x: c.at, y: c.latencyMs })),
        })),
      },
      options: {
        plugins: { title: { display: true, text: 'Latency (ms) of model calls by model and step' } },
        scales: {
          x: { type: 'linear', ...bounds, title: { display: true, text: 'time (UTC)' }, ticks: { callback: (v) => formatTimeTick(v, bounds) } },
          y: { beginAtZero: true },
        },
      },
    });
  });
  return nodes;
}

// ---- dead letters -----------------------------------------------------------------------------

async function deadLettersView() {
  const { deadLetters } = await api('/v1/dead-letters?limit=100');
  return [
    h('h2', {}, `Dead letters (${deadLetters.length})`),
    h('p', { class: 'meta' }, 'Replay republishes the original message to its original topic (admin role); fix the cause first.'),
    h(
      'table',
      { id: 'dead-letters' },
      h('thead', {}, h('tr', {}, ['Time', 'Stage', 'Reason', 'Request', 'Original topic', 'Action'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        deadLetters.map((record) => {
          const e = record.envelope;
          const d = e.data ?? {};
          const status = h('div', {});
          const replay = async (event) => {
            status.replaceChildren();
            try {
              const result = await api(`/v1/dead-letters/${enc(e.id)}/replay`, { method: 'POST' });
              event.target.disabled = true;
              status.append(h('p', { class: 'ok', role: 'status' }, `Replayed to ${result.topic}`));
            } catch (error) {
              status.append(errorLine(error));
            }
          };
          return h(
            'tr',
            { dataset: { eventId: e.id, stage: d.stage ?? '' } },
            h('td', {}, fmtTime(e.time)),
            h('td', {}, d.stage ?? ''),
            h('td', {}, h('strong', {}, d.reasonCode ?? ''), ` ${d.reason ?? ''}`, d.errors?.length ? h('ul', {}, d.errors.map((x) => h('li', {}, x))) : undefined),
            h('td', {}, d.correlationId ? h('a', { href: `#/requests/${enc(d.correlationId)}` }, d.correlationId) : ''),
            h('td', {}, d.originalTopic ?? '', h('div', { class: 'meta' }, `partition ${d.originalPartition} offset ${d.originalOffset}`)),
            h('td', {}, h('button', { type: 'button', name: 'replay', onclick: replay, disabled: Boolean(d.originalValueTruncated || d.originalSanitised) }, 'Replay'), status),
          );
        }),
      ),
    ),
  ];
}

const VIEWS = { reviews: reviewsView, requests: requestsView, costs: costsView, 'dead-letters': deadLettersView };

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  const input = $('api-key');
  const key = input.value.trim();
  input.value = '';
  login(key).catch((error) => {
    $('login-error').textContent = error.status === 401 ? 'This key is not accepted (401).' : error.message;
  });
});
$('logout').addEventListener('click', () => logout());
window.addEventListener('hashchange', () => void route());

if (sessionStorage.getItem(KEY_ITEM)) {
  login(sessionStorage.getItem(KEY_ITEM)).catch(() => logout());
} else {
  logout();
}
