import { EventBus, InMemoryTransport } from '@llmbus/bus';
import { ResponseDraftEvent, type EventEnvelope, type ResponseDraft } from '@llmbus/contracts';
import { ScriptedModelProvider } from '@llmbus/models';
import { createPiiDetector, PiiMasker } from '@llmbus/pii';
import { DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DraftPublisher } from './draft-stream';
import { ResponseGeneration, type GenerationInput } from './response-generation';

const log = pino({ level: 'silent' });

function streamingWorkflows(): WorkflowRegistry {
  const dir = mkdtempSync(join(tmpdir(), 'llmbus-stream-'));
  const yaml = readFileSync(join(DEFAULT_WORKFLOWS_DIR, 'support-ticket.v1.yaml'), 'utf8');
  const streaming = yaml.replace(/^output:\n/m, 'output:\n  stream: true\n');
  expect(streaming).not.toEqual(yaml);
  writeFileSync(join(dir, 'support-ticket.v1.yaml'), streaming);
  return WorkflowRegistry.fromDirectory(dir);
}

const output = {
  category: 'billing',
  priority: 'normal',
  reply: 'We refunded card 4111 1111 1111 1111 today.',
  citations: [],
  needsHuman: false,
  confidence: 0.8,
};

const source: GenerationInput = {
  requestId: 'r-stream',
  tenantId: 'acme',
  context: {
    workflow: { id: 'support-ticket', version: 1 },
    requester: { groups: [] },
    modelTier: 'small',
    budget: { maxOutputTokens: 400, maxCostUsd: 0.02 },
  },
  input: { subject: 'Refund', body: 'Please refund me.' },
  passages: [],
};

describe('DraftPublisher', () => {
  it('publishes whole drafts while the model writes, the last one done, card numbers redacted', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger: log });
    const drafts: ResponseDraft[] = [];
    await bus.subscribe({
      stage: 'auditor',
      groupId: 'drafts',
      notifyRequester: false,
      handlers: {
        [ResponseDraftEvent.type]: async (event) => (drafts.push(event.data as ResponseDraft), []),
      },
    });
    const json = JSON.stringify(output);
    const model = new ScriptedModelProvider().enqueueChat({
      json: output,
      deltas: [json.slice(0, 40), json.slice(40, 80), json.slice(80)],
    });
    const generation = new ResponseGeneration(
      streamingWorkflows(),
      model,
      () => ({ modelId: 'scripted/chat', contextWindow: 8_000 }),
      undefined,
      1000,
    );
    const publisher = new DraftPublisher(bus, new PiiMasker(createPiiDetector()), 0);
    const cause = { id: 'e1', tenantid: 'acme', source: '/test', type: 't', specversion: '1.0', data: {} };
    await generation.generate(
      source,
      1,
      async () => undefined,
      log,
      undefined,
      publisher.opener(cause as unknown as EventEnvelope, source.requestId, 1, log),
    );
    for (let i = 0; i < 200 && !drafts.some((d) => d.done); i += 1)
      await new Promise((r) => setTimeout(r, 5));
    expect(drafts.length).toBeGreaterThanOrEqual(2);
    expect(drafts.map((d) => d.seq)).toEqual(drafts.map((_, i) => i));
    const last = drafts.at(-1)!;
    expect(last.done).toBe(true);
    expect(last.text).toContain('[PAYMENT_CARD redacted]');
    expect(drafts.map((d) => d.text).join('')).not.toContain('4111 1111 1111 1111');
    await bus.close();
  });

  it('publishes nothing for a workflow that does not stream', async () => {
    const model = new ScriptedModelProvider().enqueueChat({ json: output });
    const generation = new ResponseGeneration(
      WorkflowRegistry.fromDirectory(),
      model,
      () => ({ modelId: 'scripted/chat', contextWindow: 8_000 }),
      undefined,
      1000,
    );
    const opened: unknown[] = [];
    await generation.generate(
      source,
      1,
      async () => undefined,
      log,
      undefined,
      (policy) => {
        opened.push(policy);
        return { push: () => undefined, end: async () => undefined };
      },
    );
    expect(opened).toEqual([]);
    expect(model.lastChatRequest?.onDelta).toBeUndefined();
  });
});
