// The operator console in a real browser (Debian's chromium, headless, driven by playwright-core)
// against the real auditor on PostgreSQL, with the generator and validator as processes on Kafka
// and a scripted OpenAI-compatible model: a reviewer edits an output and the request completes,
// a reader key cannot decide, another tenant's request stays invisible. Screenshots of each view
// go to test-results/console/ (git-ignored).
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContextRetrievedEvent,
  DeadLetteredEvent,
  ModelCallRecordedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  ResponseGeneratedEvent,
  ReviewDecidedEvent,
  Topics,
  TOPICS,
  type ContextRetrieved,
} from '@llmbus/contracts';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { databaseUrl, kafkaBrokers, uniquePrefix } from '../support/env';
import { ensureTopics } from '../support/kafka-topics';
import { ceHeaders } from '../support/pipeline-harness';
import { ScriptedOpenAIServer } from '../support/scripted-openai-server';
import { freePort, startService, stopService, type ServiceProcess } from '../support/service-processes';
import { workflowsWithoutConfidence } from '../support/workflows-fixture';

jest.setTimeout(180_000);

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(__dirname, '..', '..', 'test-results', 'console');
const TENANT = 'acme';
const OTHER_TENANT = 'globex';
const keys = {
  reviewer: `rv-${randomBytes(12).toString('hex')}`,
  reader: `rd-${randomBytes(12).toString('hex')}`,
  admin: `ad-${randomBytes(12).toString('hex')}`,
  other: `ot-${randomBytes(12).toString('hex')}`,
};
const passage = {
  id: 'acme-sync-reset#0',
  documentId: 'acme-sync-reset',
  collection: 'product-docs',
  title: 'Resetting your password',
  sourceUri: 'file:///docs/reset.md',
  chunkIndex: 0,
  text: 'To reset your password, open Settings, choose Security and press Reset password. The email arrives within five minutes.',
  score: 0.82,
};

/**
 * The scripted model: on a support ticket it asks for a human every time, so each ticket waits in
 * the review queue; on an ops alert it first asks to restart a service (a `high` tool: a person
 * must approve it), then reports what it did.
 */
const model = new ScriptedOpenAIServer((messages) => {
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  if (system.includes('on-call assistant')) {
    if (!messages.some((m) => m.role === 'tool'))
      return {
        // No words alongside the call: the console must say no reason was given, not invent one.
        text: '',
        toolCalls: [{ name: 'restart_service', arguments: { service: 'payments' } }],
      };
    return { summary: 'Restarted payments after pool timeouts.', actionTaken: true };
  }
  return {
    category: 'account',
    priority: 'normal',
    reply: 'Open Settings, choose Security and press Reset password.',
    citations: [passage.id],
    needsHuman: true,
    confidence: 0.55,
  };
});

/** The endpoint behind the `restart_service` tool: counts the calls that ran. */
const actions = {
  calls: 0,
  server: createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      actions.calls++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
  }),
};

const OPS_WORKFLOW = `
id: ops-alert
version: 1
description: Diagnose an alert and act only with a person's approval.
match:
  - eventType: { equals: alert.fired }
model:
  tier: small
  budget: { maxOutputTokens: 300, maxCostUsd: 1 }
input:
  schema:
    type: object
    additionalProperties: false
    required: [alert]
    properties:
      alert: { type: string, minLength: 1, maxLength: 2000 }
retrieval: { collections: [], topK: 0, query: '' }
prompt:
  id: ops-alert
  version: 1
  system: |
    You are an on-call assistant. Act with the tools, then answer with JSON:
    summary (what happened and what you did) and actionTaken (true when an action ran).
  user: |
    <request>
    {{input.alert}}
    </request>
output:
  schema:
    type: object
    additionalProperties: false
    required: [summary, actionTaken]
    properties:
      summary: { type: string, maxLength: 500 }
      actionTaken: { type: boolean }
validation:
  maxAttempts: 1
  stricterInstruction: Answer with the JSON object only.
  rules: []
  onExhaustion: fail
generate:
  tools: [restart_service]
  maxToolRounds: 2
`;

const opsTools = (port: number) => `
httpHosts: ['127.0.0.1:${port}']
tools:
  - name: restart_service
    kind: http
    description: Restart one service
    url: http://127.0.0.1:${port}/restart
    arguments:
      type: object
      additionalProperties: false
      required: [service]
      properties: { service: { enum: [payments, checkout-api] } }
    risk: high
    tenants: [${TENANT}]
    timeoutMs: 5000
    maxResultBytes: 2048
`;

const prefix = uniquePrefix('console-browser');
const dbName = `llmbus_console_${randomBytes(4).toString('hex')}`;
const services: ServiceProcess[] = [];
let producer: Producer;
let auditorUrl = '';
let browser: Browser;

async function api<T>(
  key: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${auditorUrl}${path}`, {
    ...init,
    headers: { 'X-Api-Key': key, 'Content-Type': 'application/json', ...init.headers },
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** Polls the audit API until `check` holds (the auditor recorded what Kafka delivered), or fails at the deadline. */
async function until<T>(
  what: string,
  probe: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) {
      for (const s of services) process.stderr.write(`--- ${s.name} ---\n${s.output().slice(-3000)}\n`);
      throw new Error(
        `${what} did not happen within ${timeoutMs} ms; last answer: ${JSON.stringify(value).slice(0, 500)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

type Trail = { events: { envelope: { type: string; data: Record<string, unknown> } }[] };
const trailTypes = (key: string, requestId: string) =>
  api<Trail>(key, `/v1/requests/${requestId}/trail`).then((r) =>
    r.status === 200 ? r.body.events.map((e) => e.envelope.type) : [],
  );

/** Hands a request to the generator as the retriever would: ContextRetrieved on Kafka. */
async function retrieved(
  tenant: string,
  requestId: string,
  subject: string,
  workflow: 'support-ticket' | 'ops-alert' = 'support-ticket',
): Promise<void> {
  const data: ContextRetrieved = {
    requestId,
    context: {
      workflow: { id: workflow, version: 1 },
      requester: { userId: 'helpdesk-bot', groups: [] },
      modelTier: 'small',
      budget: { maxOutputTokens: 400, maxCostUsd: 0.02 },
    },
    input: {
      subject,
      body: 'I clicked Forgot password twice but no email came.',
      product: 'Acme Sync',
      priority: 'high',
    },
    passages: [passage],
    withheldCount: 0,
  };
  const headers = {
    ...ceHeaders(ContextRetrievedEvent.type, requestId, tenant),
    ce_source: '/llmbus/retriever',
  };
  await producer.send({
    topic: `${prefix}${Topics.Retrieved.name}`,
    acks: -1,
    messages: [{ key: requestId, headers, value: JSON.stringify(data) }],
  });
}

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  // Nothing may load from anywhere but the auditor.
  await page.route(/.*/, (route) =>
    route.request().url().startsWith(auditorUrl) ? route.continue() : route.abort('blockedbyclient'),
  );
  return page;
}

async function logIn(page: Page, key: string): Promise<void> {
  await page.goto(`${auditorUrl}/console`);
  await page.fill('#api-key', key);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#who:not([hidden])');
}

/** Messages ever written to the generated topic (sum of its partitions' high watermarks). */
async function generatedMessages(): Promise<number> {
  const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(`${prefix}${Topics.Generated.name}`);
    return offsets.reduce((n, o) => n + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) for the browser tests`,
    );
  mkdirSync(SCREENSHOTS, { recursive: true });
  const brokers = kafkaBrokers();
  await ensureTopics(
    brokers,
    TOPICS.map((t) => ({ ...t, name: `${prefix}${t.name}` })),
  );
  const admin = new Client({ connectionString: databaseUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const dbUrl = new URL(databaseUrl());
  dbUrl.pathname = `/${dbName}`;
  const modelUrl = await model.start();
  await new Promise<void>((resolve) => actions.server.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'llmbus-console-'));
  const workflowsDir = workflowsWithoutConfidence(dir);
  // The shipped IT runbook names the shipped tools; this test declares tools of its own instead.
  rmSync(join(workflowsDir, 'it-runbook.v1.yaml'));
  writeFileSync(join(workflowsDir, 'ops-alert.v1.yaml'), OPS_WORKFLOW);
  mkdirSync(join(dir, 'tools'));
  writeFileSync(join(dir, 'tools', 'ops.yaml'), opsTools((actions.server.address() as AddressInfo).port));
  const auditorPort = await freePort();
  auditorUrl = `http://127.0.0.1:${auditorPort}`;
  const env = {
    LLMBUS_MODE: 'distributed',
    KAFKA_BROKERS: brokers.join(','),
    LLMBUS_TOPIC_PREFIX: prefix,
    KAFKA_SESSION_TIMEOUT_MS: '15000',
    LLMBUS_RETRY_DELAY_MS: '50',
    API_KEYS: [
      `${keys.reviewer}:${TENANT}:reviewer+reader::rita.reviewer`,
      `${keys.reader}:${TENANT}:reader`,
      `${keys.admin}:${TENANT}:admin`,
      `${keys.other}:${OTHER_TENANT}:reviewer+reader`,
    ].join(','),
    DATABASE_URL: dbUrl.toString(),
    LLMBUS_PII_KEY: randomBytes(32).toString('base64'),
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: modelUrl,
    OPENAI_CHAT_MODEL: 'openai/gpt-4o-mini',
    OPENAI_TRUSTED_FOR_PII: 'true',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    LLMBUS_WORKFLOWS_DIR: workflowsDir,
    LLMBUS_TOOLS_DIR: join(dir, 'tools'),
  };
  for (const [name, port] of [
    ['auditor', auditorPort],
    ['generator', 0],
    ['validator', 0],
  ] as const) {
    services.push(
      await startService(name, { ...env, HTTP_PORT: String(port), KAFKA_CLIENT_ID: `${prefix}${name}` }),
    );
  }
  producer = new Kafka({ brokers, clientId: `${prefix}upstream`, logLevel: logLevel.NOTHING }).producer({
    idempotent: true,
  });
  await producer.connect();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await producer?.disconnect();
  for (const service of services.reverse()) await stopService(service);
  await model.stop();
  actions.server.closeAllConnections();
  await new Promise<void>((resolve) => actions.server.close(() => resolve()));
  const admin = new Client({ connectionString: databaseUrl() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  const kafkaAdmin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await kafkaAdmin.connect();
  await kafkaAdmin.deleteTopics({ topics: TOPICS.map((t) => `${prefix}${t.name}`) }).catch(() => undefined);
  await kafkaAdmin.disconnect();
});

describe('operator console in chromium', () => {
  const acmeRequest = `console-${randomUUID()}`;
  const globexRequest = `console-${randomUUID()}`;

  beforeAll(async () => {
    await retrieved(TENANT, acmeRequest, 'Password reset email never arrives');
    await retrieved(OTHER_TENANT, globexRequest, 'Globex cannot log in');
    // A message the validator cannot read: it is dead-lettered with its reason.
    await producer.send({
      topic: `${prefix}${Topics.Generated.name}`,
      acks: -1,
      messages: [
        {
          key: 'broken',
          headers: ceHeaders(ResponseGeneratedEvent.type, `console-broken-${randomUUID()}`, TENANT),
          value: '{"requestId": 42}',
        },
      ],
    });
    for (const [key, id] of [
      [keys.reviewer, acmeRequest],
      [keys.other, globexRequest],
    ] as const) {
      await until(
        `the review of ${id}`,
        () => api<{ reviews: { requestId: string }[] }>(key, '/v1/reviews'),
        (r) => r.body.reviews?.some((p) => p.requestId === id) === true,
      );
    }
  });

  it('a reviewer edits an output in the review queue (schema-checked), the request completes and the timeline shows it', async () => {
    const page = await newPage();
    await logIn(page, keys.reviewer);
    expect(await page.textContent('#who-text')).toContain(`tenant ${TENANT}`);
    // The key is in the tab's session storage, in no URL and no cookie.
    expect(page.url()).not.toContain(keys.reviewer);
    expect(await page.context().cookies()).toEqual([]);
    const card = page.locator(`article.review[data-request-id="${acmeRequest}"]`);
    await card.waitFor();
    expect(await page.locator(`article.review[data-request-id="${globexRequest}"]`).count()).toBe(0);
    await shot(page, '1-review-queue');

    // An edit the output schema refuses is refused by the API, and the page shows why.
    const output = card.locator('textarea[name=output]');
    const draft = JSON.parse(await output.inputValue()) as Record<string, unknown>;
    await output.fill(JSON.stringify({ ...draft, category: 'weather' }, null, 2));
    await card.locator('button[name=edit]').click();
    await card.locator('.error').waitFor();
    expect(await card.locator('.error').textContent()).toMatch(
      /400: the edited output does not match the workflow's output schema[\s\S]*output\.category: must be one of/,
    );
    await shot(page, '2-review-edit-refused');

    const reply =
      'Open Settings, choose Security and press Reset password; the email arrives within five minutes.';
    await output.fill(JSON.stringify({ ...draft, reply, needsHuman: false }, null, 2));
    await card.locator('input[name=comment]').fill('added the delivery time');
    await card.locator('button[name=edit]').click();
    await card.locator('.ok').waitFor();
    expect(await card.locator('.ok').textContent()).toContain('Decided: edit');

    // The validator completes the request; the auditor records it.
    await until(
      'the completion',
      () => trailTypes(keys.reviewer, acmeRequest),
      (types) => types.includes(RequestCompletedEvent.type),
    );
    await card.locator('a', { hasText: 'Timeline' }).click();
    const timeline = page.locator('#timeline');
    await timeline.waitFor();
    for (const type of [
      ContextRetrievedEvent.type,
      ResponseGeneratedEvent.type,
      ReviewDecidedEvent.type,
      RequestCompletedEvent.type,
    ])
      expect(await page.locator(`#timeline tr[data-type="${type}"]`).count()).toBeGreaterThan(0);
    const completed = page.locator(`#timeline tr[data-type="${RequestCompletedEvent.type}"]`);
    expect(await completed.textContent()).toContain('accepted by reviewer');
    expect(
      await page.locator(`#timeline tr[data-type="${ReviewDecidedEvent.type}"]`).textContent(),
    ).toContain('edit by');
    const generated = await page
      .locator(`#timeline tr[data-type="${ResponseGeneratedEvent.type}"]`)
      .textContent();
    expect(generated).toContain('gpt-4o-mini');
    expect(generated).toMatch(/\d+ \/ \d+/); // tokens in / out
    expect(
      await page.locator(`#timeline tr[data-type="${ContextRetrievedEvent.type}"]`).textContent(),
    ).toContain('1 passages');
    // One model call, billed once, though three later events restate its usage.
    const callCost = await page
      .locator(`#timeline tr[data-type="${ModelCallRecordedEvent.type}"] td`)
      .nth(5)
      .textContent();
    expect(await page.locator('#view p.meta').first().textContent()).toContain(`model cost ${callCost}`);
    await shot(page, '3-timeline');

    await page.click('a[data-view=requests]');
    await page.locator(`#requests tr[data-request-id="${acmeRequest}"]`).waitFor();
    expect(await page.locator(`#requests tr[data-request-id="${globexRequest}"]`).count()).toBe(0);
    await shot(page, '4-requests');

    await page.click('a[data-view=costs]');
    await page.locator('#costs tbody tr').first().waitFor();
    await page.waitForFunction('document.querySelectorAll("canvas").length === 3');
    expect(await page.locator('#costs').textContent()).toContain('openai/gpt-4o-mini');
    await shot(page, '5-costs');
    await page.context().close();
  });

  it('a reviewer approves a tool action from the console: it runs once, the request completes, the timeline shows the call', async () => {
    const requestId = `console-tool-${randomUUID()}`;
    await retrieved(TENANT, requestId, 'payments p99 latency above 2 s', 'ops-alert');
    await until(
      'the tool approval',
      () => api<{ reviews: { requestId: string; kind?: string }[] }>(keys.reviewer, '/v1/reviews'),
      (r) => r.body.reviews?.some((p) => p.requestId === requestId && p.kind === 'tool-approval') === true,
    );
    const page = await newPage();
    await logIn(page, keys.reviewer);
    const card = page.locator(`article.review[data-request-id="${requestId}"][data-kind="tool-approval"]`);
    await card.waitFor();
    expect(await card.locator('code.tool').textContent()).toBe('restart_service');
    expect(JSON.parse(await card.locator('textarea[name=arguments]').inputValue())).toEqual({
      service: 'payments',
    });
    expect(await card.locator('p.reason').textContent()).toBe("The model's reason: no reason given");
    expect(await card.locator('p.reason em.absent').count()).toBe(1);
    expect(actions.calls).toBe(0);
    await shot(page, '9-tool-approval');
    await card.locator('input[name=comment]').fill('pool timeouts confirmed');
    await card.locator('button[name=approve]').click();
    await card.locator('.ok').waitFor();
    await until(
      'the completion',
      () => trailTypes(keys.reviewer, requestId),
      (types) => types.includes(RequestCompletedEvent.type),
    );
    expect(actions.calls).toBe(1);
    await card.locator('a', { hasText: 'Timeline' }).click();
    await page.locator('#timeline').waitFor();
    // The approver is shown by the principal's configured name, never by the key or a prefix of it.
    expect(await page.locator('#timeline .tool-calls').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringMatching(/restart_service \(completed by rita\.reviewer\)/)]),
    );
    const decidedRow = await page
      .locator(`#timeline tr[data-type="${ReviewDecidedEvent.type}"]`)
      .textContent();
    expect(decidedRow).toContain('approve by rita.reviewer');
    expect(decidedRow).not.toContain(keys.reviewer.slice(0, 6));
    await shot(page, '10-tool-timeline');
    await page.context().close();
  });

  it('a reader key sees the trail but cannot decide a review: the API refuses it', async () => {
    const page = await newPage();
    await logIn(page, keys.reader);
    await page.locator('#view .error').waitFor();
    expect(await page.locator('#view .error').textContent()).toContain('403');
    await shot(page, '6-reader-refused');
    // Even a hand-made call from the page with the reader's key is refused by the API.
    const status = await page.evaluate(async (id) => {
      const key = sessionStorage.getItem('llmbus.console.apiKey') ?? '';
      const r = await fetch(`/v1/reviews/${id}/decision`, {
        method: 'POST',
        headers: { 'X-Api-Key': key, 'Content-Type': 'application/json' },
        body: JSON.stringify({ decision: 'approve' }),
      });
      return r.status;
    }, globexRequest);
    expect(status).toBe(403);
    await page.goto(`${auditorUrl}/console#/requests/${acmeRequest}`);
    await page.locator('#timeline').waitFor();
    await page.context().close();
  });

  it("another tenant's request is not visible, neither listed nor by its id", async () => {
    const page = await newPage();
    await logIn(page, keys.other);
    await page.locator(`article.review[data-request-id="${globexRequest}"]`).waitFor();
    expect(await page.locator(`article.review[data-request-id="${acmeRequest}"]`).count()).toBe(0);
    await page.goto(`${auditorUrl}/console#/requests/${acmeRequest}`);
    await page.locator('#view .error').waitFor();
    expect(await page.locator('#view .error').textContent()).toContain(
      `404: no events for request ${acmeRequest}`,
    );
    await shot(page, '7-other-tenant-not-found');
    await page.context().close();
  });

  it('a reviewer rejects an output with a comment from the console: the request fails and the timeline shows why', async () => {
    const page = await newPage();
    await logIn(page, keys.other);
    const card = page.locator(`article.review[data-request-id="${globexRequest}"]`);
    await card.waitFor();
    await card.locator('input[name=comment]').fill('wrong product line');
    await card.locator('button[name=reject]').click();
    await card.locator('.ok').waitFor();
    expect(await card.locator('.ok').textContent()).toContain('Decided: reject');
    await until(
      'the failure',
      () => trailTypes(keys.other, globexRequest),
      (types) => types.includes(RequestFailedEvent.type),
    );
    await card.locator('a', { hasText: 'Timeline' }).click();
    await page.locator('#timeline').waitFor();
    expect(
      await page.locator(`#timeline tr[data-type="${ReviewDecidedEvent.type}"]`).textContent(),
    ).toContain('reject by');
    expect(
      await page.locator(`#timeline tr[data-type="${RequestFailedEvent.type}"]`).textContent(),
    ).toContain('wrong product line');
    expect(await page.locator(`#timeline tr[data-type="${RequestCompletedEvent.type}"]`).count()).toBe(0);
    await shot(page, '11-review-rejected');
    await page.context().close();
  });

  it('dead letters show their reason; an admin replays one, a reviewer may not', async () => {
    type Letters = { deadLetters: { envelope: { type: string; data: { stage: string } } }[] };
    const validatorLetters = async () =>
      (await api<Letters>(keys.admin, '/v1/dead-letters')).body.deadLetters.filter(
        (d) => d.envelope.type === DeadLetteredEvent.type && d.envelope.data.stage === 'validator',
      ).length;
    await until('the dead letter', validatorLetters, (n) => n > 0);
    const page = await newPage();
    await logIn(page, keys.reviewer);
    await page.goto(`${auditorUrl}/console#/dead-letters`);
    const row = page.locator('#dead-letters tbody tr[data-stage=validator]').first();
    await row.waitFor();
    expect(await row.textContent()).toContain('invalid_payload ResponseGenerated payload is invalid');
    await row.locator('button[name=replay]').click();
    await row.locator('.error').waitFor();
    expect(await row.locator('.error').textContent()).toContain('403');
    await page.context().close();

    const adminPage = await newPage();
    // The review queue the console loads at login answers only after the dead letters are shown:
    // its late answer must not replace the view the admin went to.
    let releaseReviews!: () => void;
    const reviewsHeld = new Promise<void>((resolve) => (releaseReviews = resolve));
    await adminPage.route(`${auditorUrl}/v1/reviews`, async (route) => {
      await reviewsHeld;
      await route.continue();
    });
    await logIn(adminPage, keys.admin);
    await adminPage.goto(`${auditorUrl}/console#/dead-letters`);
    const adminRow = adminPage.locator('#dead-letters tbody tr[data-stage=validator]').first();
    await adminRow.waitFor();
    const lateReviews = adminPage.waitForResponse(`${auditorUrl}/v1/reviews`);
    releaseReviews();
    await lateReviews;
    const before = await generatedMessages();
    await adminRow.locator('button[name=replay]').click();
    await adminRow.locator('.ok').waitFor();
    expect(await adminRow.locator('.ok').textContent()).toContain(
      `Replayed to ${prefix}${Topics.Generated.name}`,
    );
    await shot(adminPage, '8-dead-letters');
    // The original message is on its original topic once more (its dead letter keeps the same id, so it is not recorded twice).
    await until('the replayed message on its topic', generatedMessages, (n) => n === before + 1);
    await adminPage.context().close();
  });
});
