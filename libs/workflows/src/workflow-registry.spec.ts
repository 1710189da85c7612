import type { RequestSubmitted } from '@llmbus/contracts';
import { WorkflowError } from './errors';
import { WorkflowRegistry } from './workflow-registry';
import { parseWorkflowDocument } from './workflow-loader';

function workflowYaml(id: string, version: number, match: string, extra = ''): string {
  return `
id: ${id}
version: ${version}
description: test workflow ${id}
match:
${match}
model: { tier: small, budget: { maxOutputTokens: 100, maxCostUsd: 0 } }
input:
  schema:
    type: object
    required: [subject]
    properties:
      subject: { type: string, minLength: 1 }
      priority: { type: string, enum: [low, high, urgent] }
      customer:
        type: object
        properties: { email: { type: string, format: email } }
retrieval: { collections: [docs], topK: 2, query: "{{input.subject}}" }
prompt: { id: p-${id}, version: 1, system: "Be helpful.", user: "{{input.subject}} {{passages}}" }
output: { schema: { type: object, properties: { answer: { type: string } } } }
validation: { maxAttempts: 2, stricterInstruction: "Try harder.", rules: [], onExhaustion: fail }
${extra}`;
}

function request(eventType: string, input: Record<string, unknown>, workflow?: string): RequestSubmitted {
  return { requestId: 'r-1', eventType, input, requester: { groups: ['support'] }, workflow };
}

const registry = new WorkflowRegistry([
  parseWorkflowDocument(
    workflowYaml('tickets', 1, '  - eventType: { in: [ticket.created, ticket.updated] }'),
    'tickets.v1.yaml',
  ),
  parseWorkflowDocument(
    workflowYaml(
      'urgent-tickets',
      1,
      `  - eventType: { equals: ticket.created }
    when: [{ field: input.priority, in: [high, urgent] }]
    priority: 5
    modelTier: large`,
    ),
    'urgent-tickets.v1.yaml',
  ),
  parseWorkflowDocument(
    workflowYaml('by-group', 1, '  - when: [{ field: requester.groups, in: [vip] }]'),
    'by-group.v1.yaml',
  ),
  parseWorkflowDocument(
    workflowYaml('tickets', 2, '  - eventType: { equals: ticket.created }'),
    'tickets.v2.yaml',
  ),
]);

describe('WorkflowRegistry.route', () => {
  it('picks the first matching rule by priority, with the rule overriding the model tier', () => {
    const decision = registry.route(request('ticket.created', { subject: 'down', priority: 'urgent' }));
    expect(decision.workflow.id).toBe('urgent-tickets');
    expect(decision.modelTier).toBe('large');
    expect(decision.routed.context).toMatchObject({
      modelTier: 'large',
      workflow: { id: 'urgent-tickets', version: 1 },
    });
  });

  it('falls through to the next rule when a field condition fails, preferring the newest version on ties', () => {
    const created = registry.route(request('ticket.created', { subject: 'question', priority: 'low' }));
    expect(created.routed.context.workflow).toEqual({ id: 'tickets', version: 2 });
    expect(created.modelTier).toBe('small');
    const updated = registry.route(request('ticket.updated', { subject: 'question', priority: 'urgent' }));
    expect(updated.routed.context.workflow).toEqual({ id: 'tickets', version: 1 });
  });

  it('matches list fields such as requester groups by membership', () => {
    const decision = registry.route({
      ...request('anything.else', { subject: 'x' }),
      requester: { groups: ['staff', 'vip'] },
    });
    expect(decision.workflow.id).toBe('by-group');
  });

  it('lets an explicit workflow on the request override the rules (newest version)', () => {
    const decision = registry.route(
      request('ticket.created', { subject: 'x', priority: 'urgent' }, 'tickets'),
    );
    expect(decision.matchedBy).toBe('explicit');
    expect(decision.routed.context.workflow).toEqual({ id: 'tickets', version: 2 });
  });

  it('builds the retrieval plan from the query template and copies the budget', () => {
    const decision = registry.route(request('ticket.created', { subject: '  Reset   password ' }));
    expect(decision.routed.retrieval).toEqual({ collections: ['docs'], topK: 2, query: 'Reset password' });
    expect(decision.routed.context.budget).toEqual({ maxOutputTokens: 100, maxCostUsd: 0 });
  });

  it('rejects an unknown explicit workflow with unknown_workflow listing the known ids', () => {
    expect(() => registry.route(request('ticket.created', { subject: 'x' }, 'nope'))).toThrow(
      expect.objectContaining({
        code: 'unknown_workflow',
        message: expect.stringMatching(/"nope".*tickets.*urgent-tickets/),
      }),
    );
  });

  it('rejects an event type no rule matches with unknown_workflow naming the event type', () => {
    let error: unknown;
    try {
      registry.route(request('alert.fired', { subject: 'x' }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WorkflowError);
    expect((error as WorkflowError).code).toBe('unknown_workflow');
    expect((error as WorkflowError).message).toMatch(
      /"alert\.fired".*tickets \(v2; event types ticket\.created\)/,
    );
  });

  it('rejects invalid input with invalid_input naming each bad field', () => {
    let error: WorkflowError | undefined;
    try {
      registry.route(
        request('ticket.created', { priority: 'meh', customer: { email: 'not-an-email' } }, 'tickets'),
      );
    } catch (e) {
      error = e as WorkflowError;
    }
    expect(error?.code).toBe('invalid_input');
    expect(error?.details).toEqual(
      expect.arrayContaining([
        'input.subject: is required',
        'input.priority: must be one of "low", "high", "urgent"',
        'input.customer.email: must match format "email"',
      ]),
    );
    expect(error?.message).toMatch(/input\.subject: is required/);
  });

  it('refuses two files declaring the same id and version', () => {
    const a = parseWorkflowDocument(workflowYaml('dup', 1, '  - eventType: { equals: a }'), 'a/dup.v1.yaml');
    const b = parseWorkflowDocument(workflowYaml('dup', 1, '  - eventType: { equals: b }'), 'b/dup.v1.yaml');
    expect(() => new WorkflowRegistry([a, b])).toThrow(
      /b\/dup\.v1\.yaml: id dup version 1 is also defined in a\/dup\.v1\.yaml/,
    );
  });
});

describe('the shipped workflows folder', () => {
  const shipped = WorkflowRegistry.fromDirectory();

  it('routes ticket.created and ticket.updated to support-ticket v2 (the newest) with the product-docs collection', async () => {
    for (const eventType of ['ticket.created', 'ticket.updated']) {
      const decision = await shipped.routeClassified(
        request(eventType, { subject: 'Refund', body: 'I was charged twice' }),
        async () => ({ label: 'billing', score: 0.8, method: 'knn' }),
      );
      expect(decision.routed.context.workflow).toEqual({ id: 'support-ticket', version: 2 });
      expect(decision.routed.context.classification).toEqual({ label: 'billing', score: 0.8, method: 'knn' });
      expect(decision.routed.retrieval.collections).toEqual(['product-docs']);
    }
  });

  it('asks for review after two failed attempts', () => {
    expect(shipped.get('support-ticket', 1).validation).toMatchObject({
      maxAttempts: 2,
      onExhaustion: 'review',
    });
  });
});
