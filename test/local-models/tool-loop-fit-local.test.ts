// The tool loop's prompt fitting with the real local chat model (Gemma 3 270M GGUF, 4096-token
// context): three recorded rounds of long log_search results, far more than the window holds
// whole, then the model call after the last round. The generator counts with the model's own
// tokenizer (node-llama-cpp) and fits the rounds, so the call succeeds instead of the worker
// refusing a prompt that "exceeds the 4096-token context". One model call, no timing asserted.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ToolLoopState, ToolRound } from '@llmbus/contracts';
import {
  createModelProviders,
  parseModelsConfig,
  type LocalModelProvider,
  type ModelProviders,
} from '@llmbus/models';
import { BuiltinToolAdapter, ToolRegistry, type BuiltinTool } from '@llmbus/tools';
import { parseWorkflowDocument, WorkflowRegistry } from '@llmbus/workflows';
import Ajv from 'ajv';
import pino from 'pino';
import { ResponseGeneration } from '../../services/generator/src/response-generation';
import { ToolLoop } from '../../services/generator/src/tool-loop';

jest.setTimeout(1_800_000);

const config = parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' });
const chatPath = config.local.chatModelPath ?? join(config.modelsDir, 'gemma-3-270m-q4_k_m.gguf');
const missing = [chatPath].filter((path) => !existsSync(path));
const mustRun = Boolean(process.env.CI) || process.env.LLMBUS_REQUIRE_MODELS === '1';
if (missing.length > 0 && !mustRun) {
  console.warn(
    `\nSKIPPING the local tool-loop fit test: ${missing.join(', ')} not found (npm run models:pull).\n`,
  );
}
const describeWithModels = missing.length > 0 && !mustRun ? describe.skip : describe;

const WORKFLOW = `
id: ops-fit
version: 1
description: Diagnose an alert with tools.
match: []
model: { tier: small, budget: { maxOutputTokens: 900, maxCostUsd: 1 } }
input:
  schema: { type: object, additionalProperties: false, required: [alert], properties: { alert: { type: string, maxLength: 500 } } }
retrieval: { collections: [], topK: 0, query: '' }
prompt:
  id: ops-fit
  version: 1
  system: You are an on-call assistant. Read the tool results, then answer with JSON.
  user: "<request>{{input.alert}}</request>"
output:
  schema:
    type: object
    additionalProperties: false
    required: [summary]
    properties: { summary: { type: string, maxLength: 80 } }
validation: { maxAttempts: 1, stricterInstruction: JSON only., rules: [], onExhaustion: fail }
generate:
  tools: [log_search]
  maxToolRounds: 3
`;

/** About `chars` characters of log lines, like the runbook's log_search results. */
function logLines(chars: number, round: number): string {
  const line = `2026-11-30T09:3${round}:00Z ERROR payments-db pool exhausted: 50/50 connections busy, waited 2000 ms\n`;
  return line.repeat(Math.ceil(chars / line.length)).slice(0, chars);
}

function round(n: number): ToolRound {
  const callId = `fit-1.a1.t${n}.0`;
  const args = { query: `pool exhausted ${n}` };
  return {
    round: n,
    assistantText: '',
    calls: [{ callId, tool: 'log_search', arguments: args }],
    results: [
      {
        callId,
        tool: 'log_search',
        arguments: args,
        status: 'completed',
        content: logLines(5000, n),
        origin: 'builtin:log_search',
      },
    ],
  };
}

describeWithModels('tool loop with the local model: rounds fitted to the 4096-token context', () => {
  let models: ModelProviders;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    models = createModelProviders({ ...config, provider: 'local', openai: undefined });
    await (models.chat as LocalModelProvider).warmUp();
  });
  afterAll(() => models?.close());

  it('answers after three rounds of long results that would not fit whole', async () => {
    const adapter = new BuiltinToolAdapter();
    const tools = new ToolRegistry();
    const search: BuiltinTool = {
      name: 'log_search',
      description: 'Search the logs',
      argumentsSchema: {
        type: 'object',
        additionalProperties: false,
        required: ['query'],
        properties: { query: { type: 'string', maxLength: 40 } },
      },
      run: async () => 'unused',
    };
    adapter.register(search);
    tools.add(
      {
        name: search.name,
        description: search.description,
        kind: 'builtin',
        argumentsSchema: search.argumentsSchema,
        maxResultBytes: 16_384,
        timeoutMs: 5000,
        risk: 'read',
        tenants: ['*'],
        cacheable: false,
      },
      adapter,
    );
    const workflows = new WorkflowRegistry([parseWorkflowDocument(WORKFLOW, 'ops-fit.v1.yaml')]);
    const window = models.chatModel.contextWindow;
    const generation = new ResponseGeneration(
      workflows,
      models.chat,
      () => ({ contextWindow: window }),
      undefined,
      // Generous: on 2 shared CPU cores one call can take minutes.
      1_200_000,
    );
    const counter = (await models.chat.tokenCounter?.())!;
    const rounds = [round(1), round(2), round(3)];
    // Whole, the three results alone are more than the window.
    expect(rounds.reduce((sum, r) => sum + counter.count(r.results[0].content), 0)).toBeGreaterThan(window);
    const state: ToolLoopState = {
      requestId: 'fit-1',
      context: {
        workflow: { id: 'ops-fit', version: 1 },
        requester: { groups: [] },
        modelTier: 'small',
        budget: { maxOutputTokens: 900, maxCostUsd: 1 },
      },
      input: { alert: 'payments-db: connection pool exhausted since 09:30' },
      passages: [],
      attempt: 1,
      rounds,
      usage: {
        modelId: 'none',
        provider: 'none',
        promptTokens: 0,
        completionTokens: 0,
        costUsd: 0,
        latencyMs: 0,
      },
    };
    const step = await new ToolLoop(generation, workflows, tools).continue(
      state,
      'acme',
      async () => undefined,
      log,
    );
    expect(step.kind).toBe('answer');
    if (step.kind !== 'answer') return;
    expect(
      new Ajv({ strict: false }).validate(
        parseWorkflowDocument(WORKFLOW, 'x').output.schema,
        step.generated.output,
      ),
    ).toBe(true);
    expect(step.generated.renderedPrompt).toContain('characters cut to fit the context window');
    expect(step.generated.renderedPrompt).toContain(rounds[2].results[0].content.slice(0, 60));
    // The recorded rounds are untouched.
    expect(state.rounds[0].results[0].content).toHaveLength(5000);
    console.log(
      `local fit: window ${window}, prompt ${step.billed.usage.promptTokens} tokens as the model counted, ` +
        `answer ${JSON.stringify(step.generated.output)}`,
    );
  });
});
