// `orchestrate replay-request` on a trail in PostgreSQL: the request was produced by the
// generator's and validator's own code against a scripted OpenAI-compatible model, recorded by
// the audit store, and replayed by the CLI process against the same scripted model.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PostgresAuditStore } from '@llmbus/audit';
import {
  ContextRetrievedEvent,
  type EventEnvelope,
  type Passage,
  type RequestContext,
  ResponseGeneratedEvent,
} from '@llmbus/contracts';
import { createModelProviders, parseModelsConfig } from '@llmbus/models';
import { createLogger } from '@llmbus/observability';
import { createPiiDetector, PiiProtection } from '@llmbus/pii';
import { chatModelChooser, ResponseGeneration } from '@llmbus/svc-generator';
import { ResponseValidation } from '@llmbus/svc-validator';
import { WorkflowRegistry } from '@llmbus/workflows';
import { Client } from 'pg';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { databaseUrl } from '../support/env';
import { ScriptedOpenAIServer } from '../support/scripted-openai-server';
import { workflowsWithoutConfidence } from '../support/workflows-fixture';

jest.setTimeout(120_000);

const TENANT = 'acme';
const SIGNATURE = 'Sign every reply with: the Acme support team.';
const passage: Passage = {
  id: 'doc-reset#0',
  documentId: 'doc-reset',
  collection: 'product-docs',
  title: 'Resetting a password',
  sourceUri: 'file:///docs/reset.md',
  chunkIndex: 0,
  text: 'To reset a password, open Settings, choose Security and press Reset password.',
  score: 0.9,
};

/** The scripted model: a grounded answer; signed when the system prompt asks for a signature. */
const model = new ScriptedOpenAIServer((messages) => {
  const signed = messages.some((m) => m.role === 'system' && (m.content ?? '').includes(SIGNATURE));
  return {
    category: 'account',
    priority: 'normal',
    reply: `To reset a password, open Settings, choose Security and press Reset password.${signed ? ' The Acme support team.' : ''}`,
    citations: [passage.id],
    needsHuman: false,
    confidence: 0.9,
  };
});

const schema = `replay_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
let modelEnv: Record<string, string>;
let workflowsDir: string;

beforeAll(async () => {
  const baseUrl = await model.start();
  modelEnv = {
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: baseUrl,
    OPENAI_CHAT_MODEL: 'openai/gpt-4o-mini',
    OPENAI_TRUSTED_FOR_PII: 'true',
    OPENAI_MAX_RETRIES: '0',
  };
  // Version 2 of the workflow changes the prompt only: it asks for a signature.
  workflowsDir = workflowsWithoutConfidence();
  const v1 = parseYaml(readFileSync(join(workflowsDir, 'support-ticket.v1.yaml'), 'utf8')) as {
    version: number;
    prompt: { version: number; system: string };
  };
  const v2 = {
    ...v1,
    version: 2,
    prompt: { ...v1.prompt, version: 2, system: `${v1.prompt.system}${SIGNATURE}\n` },
  };
  writeFileSync(join(workflowsDir, 'support-ticket.v2.yaml'), stringifyYaml(v2));
});

afterAll(async () => {
  await model.stop();
  const admin = new Client({ connectionString: databaseUrl() });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

function envelope(type: string, requestId: string, data: object, causationid?: string): EventEnvelope {
  return {
    id: randomUUID(),
    source: '/llmbus/test',
    type,
    specversion: '1.0',
    time: new Date().toISOString(),
    correlationid: requestId,
    ...(causationid && { causationid }),
    tenantid: TENANT,
    schemaversion: 1,
    attempt: 1,
    data,
  };
}

/** Runs the compiled CLI as an operator would (`npm test` builds first). */
function replayCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = join(__dirname, '..', '..', 'scripts', 'orchestrate.mjs');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, 'replay-request', ...args, '--tenant', TENANT, '--schema', schema],
      {
        env: { ...process.env, ...modelEnv, DATABASE_URL: databaseUrl(), LLMBUS_WORKFLOWS_DIR: workflowsDir },
      },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
          stdout,
          stderr,
        }),
    );
  });
}

describe('orchestrate replay-request', () => {
  it('reproduces a recorded request, and shows the difference a prompt change makes, publishing nothing', async () => {
    // Record a request the way the stages produce it: retrieval's context, the generation, the decision.
    const requestId = `replay-${randomUUID()}`;
    const context: RequestContext = {
      workflow: { id: 'support-ticket', version: 1 },
      requester: { groups: [] },
      modelTier: 'small',
      budget: { maxOutputTokens: 400, maxCostUsd: 0.02 },
    };
    const input = { subject: 'Password reset', body: 'How do I reset my password?', product: 'Acme' };
    const logger = createLogger({ service: 'test', level: 'silent' });
    const workflows = WorkflowRegistry.fromDirectory(workflowsDir);
    const providers = createModelProviders(parseModelsConfig({ ...process.env, ...modelEnv }), { logger });
    const pii = new PiiProtection(createPiiDetector(), undefined);
    const generated = await new ResponseGeneration(
      workflows,
      providers.chat,
      chatModelChooser(providers),
      undefined,
      30_000,
      pii,
    ).generate(
      { requestId, context, input, passages: [passage], tenantId: TENANT },
      1,
      async () => undefined,
      logger,
    );
    await providers.close();
    const [decision] = await new ResponseValidation(workflows, pii).onGenerated(generated, logger, TENANT);
    expect(decision!.definition.type).toBe('llmbus.request.completed');

    const store = await PostgresAuditStore.open({
      connectionString: databaseUrl(),
      schema,
      maxConnections: 2,
    });
    try {
      const retrieved = envelope(ContextRetrievedEvent.type, requestId, {
        requestId,
        context,
        input,
        passages: [passage],
        withheldCount: 0,
      });
      const generatedEvent = envelope(ResponseGeneratedEvent.type, requestId, generated, retrieved.id);
      const completed = envelope(decision!.definition.type, requestId, decision!.payload, generatedEvent.id);
      for (const [i, e] of [retrieved, generatedEvent, completed].entries())
        await store.record(e, { topic: 'test', partition: 0, offset: String(i) });
    } finally {
      await store.close();
    }
    const callsBefore = model.calls;

    const same = await replayCli([requestId]);
    expect(same).toMatchObject({ code: 0, stderr: '' });
    expect(same.stdout).toContain(`replay of request ${requestId} (tenant ${TENANT}); nothing was published`);
    expect(same.stdout).toMatch(/workflow\s+support-ticket@1\s+\| support-ticket@1/);
    expect(same.stdout).toContain('output: identical');
    expect(same.stdout).toMatch(/^output {6}\{/m); // the output row is not marked as differing
    expect(same.stdout).toContain('outcome unchanged: completed');
    expect(same.stdout).toMatch(/cost USD\s+\S+\s+\| \S+/);

    const changed = await replayCli([requestId, '--workflow-version', '2']);
    expect(changed).toMatchObject({ code: 0, stderr: '' });
    expect(changed.stdout).toMatch(/prompt\s+\*support-ticket-reply@1\s+\| support-ticket-reply@2/);
    expect(changed.stdout).toContain('output differs in: reply');
    expect(changed.stdout).toContain('The Acme support team.');
    expect(changed.stdout).toContain('outcome unchanged: completed');
    // --model: the model named replaces the one the tier selects (and is the one called).
    const otherModel = await replayCli([requestId, '--model', 'openai/gpt-4o']);
    expect(otherModel).toMatchObject({ code: 0, stderr: '' });
    expect(otherModel.stdout).toMatch(/model\s+\*openai\/gpt-4o-mini\s+\| openai\/gpt-4o\s*$/m);
    expect(model.models.at(-1)).toBe('gpt-4o');
    const unknownModel = await replayCli([requestId, '--model', 'no/such-model']);
    expect(unknownModel.code).toBe(1);
    expect(unknownModel.stderr).toContain('--model no/such-model is no chat model of the registry');

    // Each replay called the model once; the trail is unchanged (nothing was published or recorded).
    expect(model.calls - callsBefore).toBe(3);
    const reader = PostgresAuditStore.reader({ connectionString: databaseUrl(), schema, timeoutMs: 10_000 });
    expect(await reader.trail(TENANT, requestId)).toHaveLength(3);
    await reader.close();
  });

  it('names the request and tenant when the trail has no such request', async () => {
    const result = await replayCli(['no-such-request']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no recorded events for request no-such-request');
  });
});
