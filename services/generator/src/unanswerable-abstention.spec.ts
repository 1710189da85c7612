import type { Passage } from '@llmbus/contracts';
import { ScriptedModelProvider } from '@llmbus/models';
import { ToolRegistry } from '@llmbus/tools';
import { DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ResponseGeneration, type GenerationInput } from './response-generation';
import { ToolLoop } from './tool-loop';

const log = pino({ level: 'silent' });
// The shipped workflows, with knowledge-assistant switched to retrieval.abstainWhenUnanswerable: true
// (it ships with false); support-ticket does not set it.
const dir = mkdtempSync(join(tmpdir(), 'abstain-workflows-'));
cpSync(DEFAULT_WORKFLOWS_DIR, dir, { recursive: true });
const assistantFile = join(dir, 'knowledge-assistant.v1.yaml');
writeFileSync(
  assistantFile,
  readFileSync(assistantFile, 'utf8').replace(
    'abstainWhenUnanswerable: false',
    'abstainWhenUnanswerable: true',
  ),
);
const workflows = WorkflowRegistry.fromDirectory(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const passage: Passage = {
  id: 'hr-annual-leave#0',
  documentId: 'hr-annual-leave',
  collection: 'policies',
  title: 'Annual leave policy',
  sourceUri: 'https://intranet.example/hr-annual-leave',
  chunkIndex: 0,
  text: 'Full-time employees receive 28 days of paid annual leave per calendar year.',
  score: 0.41,
};

function request(workflow: { id: string; version: number }, answerable: boolean | undefined) {
  return {
    requestId: 'r-abstain',
    tenantId: 'acme',
    context: {
      workflow,
      requester: { groups: ['staff'] },
      modelTier: 'small',
      budget: { maxOutputTokens: 500, maxCostUsd: 0.02 },
    },
    input: { question: 'Does the company pay for a gym membership?', subject: 'Gym', body: 'Gym?' },
    passages: [passage],
    ...(answerable === undefined ? {} : { answerable }),
  } satisfies GenerationInput & { tenantId: string };
}

async function answer(workflow: { id: string; version: number }, answerable: boolean | undefined) {
  const model = new ScriptedModelProvider().enqueueChat({
    json: { answer: 'x', citations: [], abstained: true, confidence: 0.9 },
  });
  const generation = new ResponseGeneration(
    workflows,
    model,
    () => ({ modelId: 'small/model', contextWindow: 8000 }),
    undefined,
    1000,
  );
  const step = await new ToolLoop(generation, workflows, new ToolRegistry()).start(
    request(workflow, answerable),
    1,
    async () => undefined,
    log,
  );
  if (step.kind !== 'answer') throw new Error('expected an answer');
  return { prompt: model.lastChatRequest!.messages[1]!.content, generated: step.generated };
}

describe('abstention on questions the retriever found unanswerable', () => {
  const assistant = { id: 'knowledge-assistant', version: 1 };

  it('gives the knowledge assistant no passages when the retriever reports the question unanswerable', async () => {
    const { prompt, generated } = await answer(assistant, false);
    expect(prompt).not.toContain('28 days');
    expect(prompt).toContain('(no passages were retrieved)');
    expect(generated.passages).toEqual([]);
  });

  it('gives the knowledge assistant the passages when the question is answerable or the verdict is missing', async () => {
    for (const answerable of [true, undefined]) {
      const { prompt, generated } = await answer(assistant, answerable);
      expect(prompt).toContain('28 days');
      expect(generated.passages).toEqual([passage]);
    }
  });

  it('keeps the passages of a workflow that does not abstain on the verdict', async () => {
    const { prompt, generated } = await answer({ id: 'support-ticket', version: 1 }, false);
    expect(prompt).toContain('28 days');
    expect(generated.passages).toEqual([passage]);
  });
});
