import {
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestSubmittedEvent,
  DocumentSubmittedEvent,
} from '@llmbus/contracts';
import { BuiltinToolAdapter } from './builtin-tools';
import {
  MissingTenantError,
  ticketHistory,
  ticketHistoryTool,
  type TicketTrailReader,
} from './ticket-history';
import type { ToolDefinition } from './tool-definition';
import { ToolGate } from './tool-gate';
import { ToolRegistry } from './tool-registry';

type Event = { type: string; data: Record<string, unknown> };
interface StoredRequest {
  tenant: string;
  requestId: string;
  at: string;
  status: 'in_progress' | 'awaiting_review' | 'completed' | 'failed';
  events: Event[];
}

/** An in-memory audit reader that, like the real one, answers only for the tenant it is asked about. */
function reader(requests: StoredRequest[]) {
  const asked: string[] = [];
  const store: TicketTrailReader = {
    listRequests: (tenant, limit, cursor) => {
      asked.push(tenant);
      const mine = requests.filter((r) => r.tenant === tenant);
      const start = cursor === undefined ? 0 : Number(cursor);
      const page = mine.slice(start, start + limit);
      return Promise.resolve({
        requests: page.map((r) => ({
          requestId: r.requestId,
          status: r.status,
          firstEventAt: r.at,
          lastEventAt: r.at,
        })),
        ...(start + limit < mine.length ? { nextCursor: String(start + limit) } : {}),
      });
    },
    trail: (tenant, requestId) => {
      asked.push(tenant);
      const found = requests.find((r) => r.tenant === tenant && r.requestId === requestId);
      return Promise.resolve((found?.events ?? []).map((envelope) => ({ envelope })));
    },
  };
  return { store, asked };
}

const submitted = (input: Record<string, unknown>): Event => ({
  type: RequestSubmittedEvent.type,
  data: { eventType: 'alert.fired', input },
});
const HISTORY: StoredRequest[] = [
  {
    tenant: 'acme',
    requestId: 'r-3',
    at: '2026-11-27T10:00:00Z',
    status: 'completed',
    events: [
      submitted({ alerts: [{ labels: { alertname: 'PaymentsDbPoolExhausted', service: 'payments' } }] }),
      {
        type: RequestCompletedEvent.type,
        data: {
          workflow: { id: 'it-runbook', version: 1 },
          output: { summary: 'restarted payments after approval' },
          acceptedBy: 'validator',
          _piiVault: { sealed: 'x' },
        },
      },
    ],
  },
  {
    tenant: 'acme',
    requestId: 'doc-1',
    at: '2026-11-26T10:00:00Z',
    status: 'completed',
    events: [{ type: DocumentSubmittedEvent.type, data: {} }],
  },
  {
    tenant: 'acme',
    requestId: 'r-2',
    at: '2026-11-25T10:00:00Z',
    status: 'failed',
    events: [
      submitted({ alerts: [{ labels: { alertname: 'InventorySlowQueries', service: 'inventory' } }] }),
      { type: RequestFailedEvent.type, data: { code: 'model_failed', message: 'model timed out' } },
    ],
  },
  {
    tenant: 'globex',
    requestId: 'g-1',
    at: '2026-11-27T11:00:00Z',
    status: 'completed',
    events: [submitted({ alerts: [{ labels: { alertname: 'PaymentsDbPoolExhausted' } }] })],
  },
];
const signal = () => new AbortController().signal;

describe('ticket_history', () => {
  it("answers only with the call context's tenant, newest first, without ingestion trails", async () => {
    const { store, asked } = reader(HISTORY);
    const answer = await ticketHistory({ reader: store }, {}, signal(), { tenant: 'acme' });
    expect(answer.tickets.map((t) => t.requestId)).toEqual(['r-3', 'r-2']);
    expect(new Set(asked)).toEqual(new Set(['acme']));
    expect(answer.tickets[0]).toEqual({
      requestId: 'r-3',
      status: 'completed',
      submittedAt: '2026-11-27T10:00:00Z',
      updatedAt: '2026-11-27T10:00:00Z',
      eventType: 'alert.fired',
      workflow: 'it-runbook.v1',
      input: '{"alerts":[{"labels":{"alertname":"PaymentsDbPoolExhausted","service":"payments"}}]}',
      outcome: '{"output":{"summary":"restarted payments after approval"},"acceptedBy":"validator"}',
    });
    expect(answer.tickets[1]?.outcome).toBe('{"failure":"model_failed","message":"model timed out"}');
  });

  it('filters by text, status and time', async () => {
    const { store } = reader(HISTORY);
    const run = (query: Parameters<typeof ticketHistory>[1]) =>
      ticketHistory({ reader: store }, query, signal(), { tenant: 'acme' }).then((a) =>
        a.tickets.map((t) => t.requestId),
      );
    expect(await run({ query: 'inventoryslow' })).toEqual(['r-2']);
    expect(await run({ query: 'RESTARTED PAYMENTS' })).toEqual(['r-3']);
    expect(await run({ status: 'failed' })).toEqual(['r-2']);
    expect(await run({ since: '2026-11-26T00:00:00Z' })).toEqual(['r-3']);
    expect(await run({ limit: 1 })).toEqual(['r-3']);
  });

  it('stops at the trail bound and says the answer is incomplete', async () => {
    const many: StoredRequest[] = Array.from({ length: 30 }, (_, i) => ({
      tenant: 'acme',
      requestId: `r-${i}`,
      at: '2026-11-27T10:00:00Z',
      status: 'completed',
      events: [submitted({ n: i })],
    }));
    const { store } = reader(many);
    const answer = await ticketHistory(
      { reader: store, limits: { maxTrails: 4 } },
      { query: 'no such text' },
      signal(),
      { tenant: 'acme' },
    );
    expect(answer).toMatchObject({ tickets: [], incomplete: true, scanned: 5 });
  });

  it('refuses to run without a tenant in the call context', async () => {
    const { store, asked } = reader(HISTORY);
    await expect(ticketHistory({ reader: store }, {}, signal(), undefined)).rejects.toThrow(
      MissingTenantError,
    );
    expect(asked).toEqual([]);
  });

  it('gets the tenant from the gated request, and a tenant argument is refused by the schema', async () => {
    const { store, asked } = reader(HISTORY);
    const tool = ticketHistoryTool({ reader: store });
    const definition: ToolDefinition = {
      name: tool.name,
      description: tool.description,
      kind: 'builtin',
      argumentsSchema: tool.argumentsSchema,
      maxResultBytes: 8192,
      timeoutMs: 2000,
      risk: 'read',
      tenants: ['*'],
      cacheable: false,
    };
    const gate = new ToolGate(new ToolRegistry().add(definition, new BuiltinToolAdapter().register(tool)));
    const allowlist = { tools: ['ticket_history'], maxToolRounds: 2 };
    const spoofed = await gate.execute(
      {
        call: { id: 'c1', tool: 'ticket_history', arguments: { tenant: 'globex' } },
        allowlist,
        tenant: 'acme',
        round: 1,
      },
      signal(),
    );
    expect(spoofed).toMatchObject({ kind: 'refused', code: 'invalid_arguments' });
    const outcome = await gate.execute(
      {
        call: { id: 'c2', tool: 'ticket_history', arguments: { query: 'payments' } },
        allowlist,
        tenant: 'acme',
        round: 1,
      },
      signal(),
    );
    expect(outcome.kind === 'completed' && JSON.parse(outcome.result.content)).toMatchObject({
      tickets: [{ requestId: 'r-3' }],
    });
    expect(new Set(asked)).toEqual(new Set(['acme']));
  });
});
