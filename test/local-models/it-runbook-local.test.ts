// The shipped IT runbook workflow (workflows/it-runbook.v1.yaml) and tool files (tools/*.yaml) with
// the real local chat model (Gemma 3 270M GGUF, node-llama-cpp), in-process. The model is far too
// small to diagnose; what the test checks is mechanical: every call it makes names an allowlisted
// tool, a call whose arguments fail the tool's schema is refused and not run, restart_service (high)
// never runs before approval and runs once when approved, and the loop ends in an answer valid
// against the workflow's output schema. The payments runbook passages are given as retrieval would.
// On the loaded 2-core machine each model call takes minutes: it lives here, not in the e2e suite.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Passage, ToolLoopState } from '@llmbus/contracts';
import {
  createModelProviders,
  parseModelsConfig,
  type LocalModelProvider,
  type ModelProviders,
} from '@llmbus/models';
import { builtinTools } from '@llmbus/svc-generator';
import { loadToolDirectory, openTools, ToolGate, type OpenedTools } from '@llmbus/tools';
import { DEFAULT_WORKFLOWS_DIR, parseWorkflowDocument, WorkflowRegistry } from '@llmbus/workflows';
import Ajv from 'ajv';
import pino from 'pino';
import { ResponseGeneration } from '../../services/generator/src/response-generation';
import { ToolLoop } from '../../services/generator/src/tool-loop';
import { ToolRoundRunner } from '../../services/generator/src/tool-rounds';

jest.setTimeout(1_800_000);

const ROOT = join(__dirname, '..', '..');
const config = parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' });
const chatPath = config.local.chatModelPath ?? join(config.modelsDir, 'gemma-3-270m-q4_k_m.gguf');
const missing = [chatPath].filter((path) => !existsSync(path));
const mustRun = Boolean(process.env.CI) || process.env.LLMBUS_REQUIRE_MODELS === '1';
if (missing.length > 0 && !mustRun) {
  console.warn(
    `\nSKIPPING the local IT runbook test: ${missing.join(', ')} not found (npm run models:pull).\n`,
  );
}
const describeWithModels = missing.length > 0 && !mustRun ? describe.skip : describe;

const WORKFLOW_TEXT = readFileSync(join(DEFAULT_WORKFLOWS_DIR, 'it-runbook.v1.yaml'), 'utf8');
const ALLOWLIST = ['log_search', 'metrics_query', 'ticket_history', 'restart_service'];

/** The payments runbook split at its `##` sections, as the retriever would pass its chunks. */
function runbookPassages(): Passage[] {
  const file = 'payments-db-pool-exhaustion.md';
  const text = readFileSync(join(ROOT, 'samples', 'documents', 'runbooks', file), 'utf8');
  return text
    .split(/\n(?=## )/)
    .slice(0, 3)
    .map((section, chunkIndex) => ({
      id: `payments-db-pool-exhaustion#${chunkIndex}`,
      documentId: 'payments-db-pool-exhaustion',
      collection: 'runbooks',
      title: 'Runbook: payments database pool exhausted',
      sourceUri: `samples/documents/runbooks/${file}`,
      chunkIndex,
      text: section,
      score: 1 - chunkIndex / 10,
    }));
}

describeWithModels('IT runbook with the local model: shipped workflow and tools', () => {
  let models: ModelProviders;
  let tools: OpenedTools;
  const restarts: unknown[] = [];
  const endpoint: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      restarts.push(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"rollout":"complete"}');
    });
  });
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const restartUrl = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/v1/restart`;
    // The shipped tool files; metrics_query answers when PROMETHEUS_URL is set (shared infra),
    // ticket_history has no audit store here and fails naming what to set.
    tools = await openTools(
      loadToolDirectory(undefined, { ...process.env, RESTART_SERVICE_URL: restartUrl }),
      builtinTools(undefined, process.env),
    );
    models = createModelProviders({ ...config, provider: 'local', openai: undefined });
    await (models.chat as LocalModelProvider).warmUp();
  });
  afterAll(async () => {
    await models?.close();
    await tools?.close();
    endpoint.closeAllConnections();
    await new Promise<void>((resolve) => endpoint.close(() => resolve()));
  });

  it('calls only allowlisted tools, runs no invalid call, restarts only once approved, and answers schema-valid', async () => {
    const workflow = parseWorkflowDocument(WORKFLOW_TEXT, 'it-runbook.v1.yaml');
    const workflows = new WorkflowRegistry([workflow]);
    const generation = new ResponseGeneration(
      workflows,
      models.chat,
      () => ({ contextWindow: models.chatModel.contextWindow }),
      undefined,
      // Generous: on 2 shared CPU cores one grammar-constrained call can take minutes.
      900_000,
    );
    const registry = tools.registry;
    const loop = new ToolLoop(generation, workflows, registry);
    const rounds = new ToolRoundRunner({ gate: new ToolGate(registry), approvalExpiryMs: 600_000 });
    const heartbeat = async () => undefined;
    const alert = JSON.parse(
      readFileSync(join(ROOT, 'samples', 'alerts', 'payments-db-pool.json'), 'utf8'),
    ) as {
      input: Record<string, unknown>;
    };

    const started = Date.now();
    let step = await loop.start(
      {
        requestId: 'it-runbook-local-1',
        context: {
          workflow: { id: workflow.id, version: workflow.version },
          requester: { groups: [] },
          modelTier: 'small',
          budget: { ...workflow.model.budget },
        },
        input: alert.input,
        passages: runbookPassages(),
        tenantId: 'demo',
      },
      1,
      heartbeat,
      log,
    );
    const calls: string[] = [];
    let approvals = 0;
    while (step.kind === 'requested') {
      const round = step.state.rounds.at(-1)!;
      for (const call of round.calls) {
        // Grammar-forced: only allowlisted names ever come out of the model.
        expect(ALLOWLIST).toContain(call.tool);
        calls.push(call.tool);
      }
      const before = restarts.length;
      const progress = await rounds.run(
        step.state,
        loop.allowlistOf(step.state.context)!,
        'demo',
        new AbortController().signal,
        log,
      );
      let state: ToolLoopState = progress.state;
      if (progress.kind === 'approval') {
        // Stopped before the high call ran; approving that exact call runs it once.
        expect(progress.approval.tool).toBe('restart_service');
        expect(restarts).toHaveLength(before);
        approvals += 1;
        const approved = await rounds.run(
          progress.approval.loop,
          loop.allowlistOf(state.context)!,
          'demo',
          new AbortController().signal,
          log,
          {
            callId: progress.approval.callId,
            decision: 'approve',
            reviewer: 'on-call@test',
            approvedCallHash: progress.approval.callHash,
          },
        );
        state = approved.state;
      }
      const results = state.rounds.at(-1)!.results;
      for (const result of results) {
        // A call whose arguments fail the schema is refused, never run.
        if (result.code === 'invalid_arguments') expect(result.status).toBe('refused');
        if (result.tool === 'restart_service' && result.status === 'completed') {
          expect(result.reviewer).toBe('on-call@test');
        }
      }
      step = await loop.continue(state, 'demo', heartbeat, log);
    }
    expect(restarts).toHaveLength(approvals);
    expect(step.generated.output).toBeDefined();
    expect(new Ajv({ strict: false }).validate(workflow.output.schema, step.generated.output)).toBe(true);
    console.log(
      `local IT runbook in ${Math.round((Date.now() - started) / 1000)} s; tool calls: ${calls.join(', ') || 'none'}; approvals: ${approvals}; answer: ${JSON.stringify(step.generated.output)}`,
    );
  });
});
