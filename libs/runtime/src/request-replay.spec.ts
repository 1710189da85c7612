import type { AuditRecord } from '@llmbus/audit';
import type { ResponseGenerated } from '@llmbus/contracts';
import {
  formatReplayReport,
  replayRequest,
  replaySourceFrom,
  ReplayError,
  type ReplayPorts,
} from './request-replay';

const context = {
  workflow: { id: 'support-ticket', version: 1 },
  requester: { groups: [] },
  modelTier: 'small' as const,
  budget: { maxOutputTokens: 100, maxCostUsd: 0.01 },
};
const usage = {
  modelId: 'm',
  provider: 'p',
  promptTokens: 10,
  completionTokens: 5,
  costUsd: 0.001,
  latencyMs: 20,
};

function record(type: string, data: Record<string, unknown>, id = type, causationid?: string): AuditRecord {
  return {
    envelope: {
      id,
      source: '/llmbus/test',
      type,
      specversion: '1.0',
      time: '2026-01-01T00:00:00Z',
      correlationid: 'r-1',
      causationid,
      tenantid: 'acme',
      schemaversion: 1,
      data,
    },
    position: { topic: 't', partition: 0, offset: '0' },
    recordedAt: '2026-01-01T00:00:00Z',
  };
}

const generated = (reply: string, version: number): ResponseGenerated => ({
  requestId: 'r-1',
  context: { ...context, workflow: { id: 'support-ticket', version } },
  input: { subject: 's' },
  passages: [],
  attempt: 1,
  prompt: { id: 'reply', version },
  renderedPrompt: '[]',
  text: JSON.stringify({ reply }),
  output: { reply, category: 'other' },
  usage,
});

const trail = [
  record('llmbus.context.retrieved', {
    requestId: 'r-1',
    context,
    input: { subject: 's' },
    passages: [],
    withheldCount: 0,
  }),
  record('llmbus.response.generated', { ...generated('old', 1) }, 'gen-1'),
  record(
    'llmbus.request.completed',
    { requestId: 'r-1', output: { reply: 'old' }, assessment: { confidence: 0.9 } },
    'done',
    'gen-1',
  ),
];

describe('request replay', () => {
  it('starts from the recorded context and compares with the first generation and its decision', async () => {
    const source = replaySourceFrom('r-1', trail);
    expect(source).toMatchObject({
      tenantId: 'acme',
      input: { subject: 's' },
      recorded: { decision: { outcome: 'completed', confidence: 0.9 } },
    });
    const seen: number[] = [];
    const ports: ReplayPorts = {
      generate: (input) => {
        seen.push(input.context.workflow.version);
        return Promise.resolve(generated('new', input.context.workflow.version));
      },
      validate: (g) => [
        {
          type: 'llmbus.review.requested',
          payload: { output: g.output, violations: ['x: y'], reason: 'low confidence' },
        },
      ],
    };
    const report = await replayRequest(source, ports, { workflowVersion: 2 });
    expect(seen).toEqual([2]);
    expect(report).toMatchObject({
      outputDifferences: ['reply'],
      outcomeChanged: true,
      replayed: { workflow: 'support-ticket@2', prompt: 'reply@2' },
    });
    const text = formatReplayReport(report);
    expect(text).toMatch(/^workflow {3}\*support-ticket@1 +\| support-ticket@2$/m);
    expect(text).toContain('output differs in: reply');
    expect(text).toContain('outcome changed: completed -> review');
  });

  it('refuses an unknown request and one whose input retention removed, saying why', () => {
    expect(() => replaySourceFrom('r-9', [])).toThrow(ReplayError);
    const removed = { ...trail[0]!, payloadRemovedAt: '2026-04-01T00:00:00Z' };
    expect(() => replaySourceFrom('r-1', [removed])).toThrow(/removed by retention on 2026-04-01/);
  });
});
