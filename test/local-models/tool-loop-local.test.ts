// The generator's tool loop with the real local chat model (Gemma 3 270M GGUF, node-llama-cpp):
// a model this small cannot choose tools well, so the choice is forced mechanically by the JSON
// Schema grammar of the tool envelope (only allowlisted tools, only schema-valid arguments). The
// test checks what is mechanical: every call names an allowlisted tool with valid arguments, the
// `high` tool never runs without approval, and the loop ends in a schema-valid answer within
// maxToolRounds. It does not judge the quality of the choices.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ToolLoopState } from '@llmbus/contracts';
import {
  createModelProviders,
  parseModelsConfig,
  type LocalModelProvider,
  type ModelProviders,
} from '@llmbus/models';
import { BuiltinToolAdapter, ToolGate, ToolRegistry, type BuiltinTool } from '@llmbus/tools';
import { parseWorkflowDocument, WorkflowRegistry } from '@llmbus/workflows';
import Ajv from 'ajv';
import pino from 'pino';
import { ResponseGeneration } from '../../services/generator/src/response-generation';
import { ToolLoop } from '../../services/generator/src/tool-loop';
import { ToolRoundRunner } from '../../services/generator/src/tool-rounds';

jest.setTimeout(1_800_000);

const config = parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' });
const chatPath = config.local.chatModelPath ?? join(config.modelsDir, 'gemma-3-270m-q4_k_m.gguf');
const embeddingPath = config.local.embeddingModelPath ?? join(config.modelsDir, 'all-minilm-l6-v2-f32.gguf');
const missing = [chatPath, embeddingPath].filter((path) => !existsSync(path));
const mustRun = Boolean(process.env.CI) || process.env.LLMBUS_REQUIRE_MODELS === '1';
if (missing.length > 0 && !mustRun) {
  console.warn(
    `\nSKIPPING the local tool-loop test: ${missing.join(', ')} not found (npm run models:pull).\n`,
  );
}
const describeWithModels = missing.length > 0 && !mustRun ? describe.skip : describe;

const WORKFLOW = `
id: ops-local
version: 1
description: Diagnose an alert with tools.
match: []
model: { tier: small, budget: { maxOutputTokens: 60, maxCostUsd: 1 } }
input:
  schema: { type: object, additionalProperties: false, required: [alert], properties: { alert: { type: string, maxLength: 500 } } }
retrieval: { collections: [], topK: 0, query: '' }
prompt:
  id: ops-local
  version: 1
  system: You are an on-call assistant. Use a tool to look at the logs, then answer with JSON.
  user: "<request>{{input.alert}}</request>"
output:
  schema:
    type: object
    additionalProperties: false
    required: [summary]
    properties: { summary: { type: string, maxLength: 80 } }
validation: { maxAttempts: 1, stricterInstruction: JSON only., rules: [], onExhaustion: fail }
generate:
  tools: [log_lookup, restart_service]
  maxToolRounds: 2
`;

describeWithModels('tool loop with the local model: grammar-forced tool choice', () => {
  let models: ModelProviders;
  const restarts: unknown[] = [];
  const wipes: unknown[] = [];
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    models = createModelProviders({ ...config, provider: 'local', openai: undefined });
    await (models.chat as LocalModelProvider).warmUp();
  });
  afterAll(() => models?.close());

  function registry(): ToolRegistry {
    const adapter = new BuiltinToolAdapter();
    const tools = new ToolRegistry();
    const restart: BuiltinTool = {
      name: 'restart_service',
      description: 'Restart one service',
      argumentsSchema: {
        type: 'object',
        additionalProperties: false,
        required: ['service'],
        properties: { service: { enum: ['payments', 'checkout-api', 'inventory', 'auth'] } },
      },
      run: async (args) => (restarts.push(args), 'restarted'),
    };
    const wipe: BuiltinTool = {
      name: 'wipe_disk',
      description: 'Wipe a disk (declared, never allowlisted)',
      argumentsSchema: { type: 'object', additionalProperties: false, properties: {} },
      run: async (args) => (wipes.push(args), 'wiped'),
    };
    // Enum-only arguments keep the grammar and the generation short on shared CPU cores.
    const lookup: BuiltinTool = {
      name: 'log_lookup',
      description: 'Recent error log lines of one service',
      argumentsSchema: {
        type: 'object',
        additionalProperties: false,
        required: ['service'],
        properties: { service: { enum: ['payments', 'checkout-api', 'inventory', 'auth'] } },
      },
      run: async (args) => `${String(args['service'])}: 09:30 connection pool exhausted (db-1)`,
    };
    for (const [tool, risk] of [
      [lookup, 'read'],
      [restart, 'high'],
      [wipe, 'write'],
    ] as const) {
      adapter.register(tool);
      tools.add(
        {
          name: tool.name,
          description: tool.description,
          kind: 'builtin',
          argumentsSchema: tool.argumentsSchema,
          maxResultBytes: 2048,
          timeoutMs: 5000,
          risk,
          tenants: ['*'],
          cacheable: false,
        },
        adapter,
      );
    }
    return tools;
  }

  it('calls only allowlisted tools with schema-valid arguments, never runs the high tool unapproved, and ends in a schema-valid answer', async () => {
    const tools = registry();
    const workflows = new WorkflowRegistry([parseWorkflowDocument(WORKFLOW, 'ops-local.v1.yaml')]);
    const generation = new ResponseGeneration(
      workflows,
      models.chat,
      () => ({ contextWindow: models.chatModel.contextWindow }),
      undefined,
      // Generous: on 2 shared CPU cores one grammar-constrained call can take minutes.
      600_000,
    );
    const loop = new ToolLoop(generation, workflows, tools);
    const rounds = new ToolRoundRunner({ gate: new ToolGate(tools), approvalExpiryMs: 60_000 });
    const ajv = new Ajv({ strict: false });
    const heartbeat = async () => undefined;

    let step = await loop.start(
      {
        requestId: 'local-1',
        context: {
          workflow: { id: 'ops-local', version: 1 },
          requester: { groups: [] },
          modelTier: 'small',
          budget: { maxOutputTokens: 60, maxCostUsd: 1 },
        },
        input: { alert: 'payments service: database connection timeouts since 09:30' },
        passages: [],
        tenantId: 'acme',
      },
      1,
      heartbeat,
      log,
    );
    const called: string[] = [];
    while (step.kind === 'requested') {
      const round = step.state.rounds.at(-1)!;
      for (const call of round.calls) {
        called.push(call.tool);
        expect(['log_lookup', 'restart_service']).toContain(call.tool);
        expect(tools.argumentProblems(call.tool, call.arguments)).toEqual([]);
      }
      const progress = await rounds.run(
        step.state,
        loop.allowlistOf(step.state.context)!,
        'acme',
        new AbortController().signal,
        log,
      );
      let state: ToolLoopState = progress.state;
      if (progress.kind === 'approval') {
        expect(progress.approval.tool).toBe('restart_service');
        expect(restarts).toEqual([]);
        const rejected = await rounds.run(
          progress.approval.loop,
          loop.allowlistOf(state.context)!,
          'acme',
          new AbortController().signal,
          log,
          {
            callId: progress.approval.callId,
            decision: 'reject',
            reviewer: 'test',
            approvedCallHash: progress.approval.callHash,
          },
        );
        state = rejected.state;
      }
      step = await loop.continue(state, 'acme', heartbeat, log);
    }
    expect(step.generated.output).toBeDefined();
    expect(ajv.validate(parseWorkflowDocument(WORKFLOW, 'x').output.schema, step.generated.output)).toBe(
      true,
    );
    expect(restarts).toEqual([]);
    expect(wipes).toEqual([]);
    console.log(
      `local model tool calls: ${called.join(', ') || 'none'}; answer: ${JSON.stringify(step.generated.output)}`,
    );
  });
});
