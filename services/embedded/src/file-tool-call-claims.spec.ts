import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import fsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UnfinishedRequest } from '@llmbus/audit';
import {
  RequestSubmittedEvent,
  ToolCallsCompletedEvent,
  ToolCallsRequestedEvent,
  validatePayload,
  type EventEnvelope,
  type ToolLoopState,
} from '@llmbus/contracts';
import { BuiltinToolAdapter, ToolGate, ToolRegistry, type ToolCallRequest } from '@llmbus/tools';
import { FileToolCallClaims } from './file-tool-call-claims';
import { MAX_RESUME_MAX_AGE_MS, resumeDecision, resumeMaxAgeMs } from './interrupted-requests';

const signal = new AbortController().signal;
const DAY = 24 * 60 * 60 * 1000;

/** A registry with one side-effecting tool, `restart` (write), that counts its runs. */
function restartTool(): { registry: ToolRegistry; runs: string[] } {
  const runs: string[] = [];
  const adapter = new BuiltinToolAdapter();
  const argumentsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: { service: { type: 'string' } },
  };
  adapter.register({
    name: 'restart',
    description: 'restart',
    argumentsSchema,
    run: async () => 'restarted',
  });
  const registry = new ToolRegistry();
  registry.add(
    {
      name: 'restart',
      description: 'restart',
      kind: 'builtin',
      argumentsSchema,
      maxResultBytes: 4096,
      timeoutMs: 1000,
      risk: 'write',
      tenants: ['*'],
      cacheable: false,
    },
    {
      call: (call, s) => {
        runs.push(call.id);
        return adapter.call(call, s);
      },
    },
  );
  return { registry, runs };
}

const request: ToolCallRequest = {
  call: { id: 'r1.a1.t1.0', tool: 'restart', arguments: { service: 'payments' } },
  allowlist: { tools: ['restart'], maxToolRounds: 2 },
  tenant: 'acme',
  round: 1,
};

describe('FileToolCallClaims', () => {
  const folder = () => join(mkdtempSync(join(tmpdir(), 'llmbus-claims-')), 'tool-claims');

  it('gives a claim once, also to a store opened later on the same folder (a restarted process)', async () => {
    const dir = folder();
    expect(await new FileToolCallClaims(dir).claim('acme:r1.a1.t1.0', DAY)).toBe(true);
    const restarted = new FileToolCallClaims(dir);
    expect(await restarted.claim('acme:r1.a1.t1.0', DAY)).toBe(false);
    expect(await restarted.claim('acme:r1.a1.t1.1', DAY)).toBe(true);
    // Named by a hash: no tenant or call id in the file names.
    expect(readdirSync(dir).every((name) => /^[0-9a-f]{64}$/.test(name))).toBe(true);
  });

  it('gives an expired claim again, and counts a claim file left empty by a crash as taken', async () => {
    const dir = folder();
    let now = 1_000;
    const store = new FileToolCallClaims(dir, () => now);
    expect(await store.claim('k', 10)).toBe(true);
    now = 1_011;
    expect(await store.claim('k', 10)).toBe(true);
    expect(await store.claim('k', 10)).toBe(false);
    expect(await store.claim('empty', 10)).toBe(true);
    for (const name of readdirSync(dir)) writeFileSync(join(dir, name), '');
    now = 1_000_000;
    expect(await store.claim('empty', 10)).toBe(false);
  });

  it('leaves no claim behind when it could not be written (a full disk), so the call runs once space is back', async () => {
    const dir = folder();
    const store = new FileToolCallClaims(dir);
    await store.claim('warm-up', DAY);
    const realOpen = fsPromises.open;
    const open = jest.spyOn(fsPromises, 'open').mockImplementationOnce(async (...args) => {
      const handle = await realOpen(...args);
      handle.writeFile = () =>
        Promise.reject(
          Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
        );
      return handle;
    });
    try {
      // Not taken: the call does not run, and the handling is retried.
      await expect(store.claim('acme:r1.a1.t1.0', DAY)).rejects.toThrow(/ENOSPC/);
    } finally {
      open.mockRestore();
    }
    // The retry takes the claim: the call never ran, so it runs now (not `outcome_unknown`).
    expect(await store.claim('acme:r1.a1.t1.0', DAY)).toBe(true);
  });

  it('lets a restarted process not run again a side-effecting call the stopped one started', async () => {
    const dir = folder();
    const { registry, runs } = restartTool();
    // The process that stopped: it took the claim and ran the call, but its round was not recorded.
    const before = new ToolGate(registry, undefined, { store: new FileToolCallClaims(dir) });
    expect(await before.execute(request, signal)).toMatchObject({ kind: 'completed' });
    // The next start resumes the request from the round's ToolCallsRequested: same call id.
    const after = new ToolGate(registry, undefined, { store: new FileToolCallClaims(dir) });
    expect(await after.execute(request, signal)).toMatchObject({ kind: 'outcome_unknown' });
    expect(runs).toEqual(['r1.a1.t1.0']);
  });
});

describe('resuming a request in its tool loop', () => {
  const state: ToolLoopState = {
    requestId: 'r1',
    context: {
      workflow: { id: 'it-runbook', version: 1 },
      requester: { groups: [] },
      modelTier: 'small',
      budget: { maxOutputTokens: 100, maxCostUsd: 1 },
    },
    input: { alert: 'payments slow' },
    passages: [],
    attempt: 1,
    rounds: [
      {
        round: 1,
        assistantText: 'Restarting payments.',
        calls: [{ callId: 'r1.a1.t1.0', tool: 'restart', arguments: { service: 'payments' } }],
        results: [
          {
            callId: 'r1.a1.t1.0',
            tool: 'restart',
            arguments: { service: 'payments' },
            status: 'completed',
            content: 'restarted',
          },
        ],
      },
    ],
    usage: { modelId: 'm', provider: 'p', promptTokens: 1, completionTokens: 1, costUsd: 0, latencyMs: 1 },
  };
  const envelope = (type: string, second: number, data: object): EventEnvelope<Record<string, unknown>> => ({
    id: `r1-${type}`,
    source: '/llmbus/generator',
    type,
    specversion: '1.0',
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
    correlationid: 'r1',
    tenantid: 'acme',
    schemaversion: 1,
    data: data as Record<string, unknown>,
  });
  const record = (e: EventEnvelope<Record<string, unknown>>) => ({
    envelope: e,
    position: { topic: 'orchestration.tool-calls.v1', partition: 0, offset: '0' },
    recordedAt: e.time,
  });

  it('takes it up from the recorded results, so the generator calls the model and never the tool again', () => {
    expect(validatePayload(ToolCallsCompletedEvent, state)).toMatchObject({ ok: true });
    const completed = record(envelope(ToolCallsCompletedEvent.type, 3, state));
    const unfinished: UnfinishedRequest = {
      tenantId: 'acme',
      requestId: 'r1',
      lastEvent: completed,
      lastPathEvent: completed,
      submittedAt: envelope(RequestSubmittedEvent.type, 1, {}).time,
    };
    const decision = resumeDecision(unfinished, {
      now: Date.UTC(2026, 0, 1, 1),
      maxAgeMs: DAY,
      raw: (e) => e,
    });
    expect(decision).toMatchObject({
      action: 'resume',
      stage: 'generator',
      envelope: { type: ToolCallsCompletedEvent.type, id: `r1-${ToolCallsCompletedEvent.type}` },
    });
    // Its rounds carry the call's result: the loop goes on from them (ToolCallsCompleted is
    // consumed by calling the model), and the round is not run again.
    if (decision.action !== 'resume') return;
    expect((decision.envelope.data as ToolLoopState).rounds[0].results).toHaveLength(1);
    expect(decision.envelope.type).not.toBe(ToolCallsRequestedEvent.type);
  });
});

describe('how late a request may be resumed', () => {
  it('never so late that the claim of a call its stopped run started has expired (the call would run twice)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'llmbus-claims-')), 'tool-claims');
    const { registry, runs } = restartTool();
    const stoppedAt = Date.UTC(2026, 0, 1);
    let now = stoppedAt;
    const gate = () => new ToolGate(registry, undefined, { store: new FileToolCallClaims(dir, () => now) });
    // The stopped run recorded the round's ToolCallsRequested, took the call's claim and ran it.
    expect(await gate().execute(request, signal)).toMatchObject({ kind: 'completed' });
    const requested = {
      envelope: {
        id: 'r1-requested',
        source: '/llmbus/generator',
        type: ToolCallsRequestedEvent.type,
        specversion: '1.0' as const,
        time: new Date(stoppedAt).toISOString(),
        correlationid: 'r1',
        tenantid: 'acme',
        schemaversion: 1,
        data: {},
      },
      position: { topic: 'orchestration.tool-calls.v1', partition: 0, offset: '0' },
      recordedAt: new Date(stoppedAt).toISOString(),
    };
    // The operator allows the longest resume age there is; the next start comes just within it.
    const maxAgeMs = resumeMaxAgeMs({ LLMBUS_RESUME_MAX_AGE_MS: String(MAX_RESUME_MAX_AGE_MS) });
    now = stoppedAt + maxAgeMs;
    const decision = resumeDecision(
      {
        tenantId: 'acme',
        requestId: 'r1',
        lastEvent: requested,
        lastPathEvent: requested,
        submittedAt: requested.envelope.time,
      },
      { now, maxAgeMs, raw: (e) => e },
    );
    // Resumed (or failed by the contract check on this bare payload), never judged too old...
    expect(decision.action === 'fail' ? decision.reason : '').not.toMatch(/LLMBUS_RESUME_MAX_AGE_MS/);
    // ...and the call it resumes finds its claim: not run again.
    expect(await gate().execute(request, signal)).toMatchObject({ kind: 'outcome_unknown' });
    expect(runs).toEqual(['r1.a1.t1.0']);
  });

  it("refuses a resume age beyond the claims' lifetime, naming the variable", () => {
    expect(resumeMaxAgeMs({})).toBe(DAY);
    expect(() => resumeMaxAgeMs({ LLMBUS_RESUME_MAX_AGE_MS: String(30 * DAY) })).toThrow(
      /^LLMBUS_RESUME_MAX_AGE_MS is "2592000000": expected an integer from 0 to /,
    );
    expect(() => resumeMaxAgeMs({ LLMBUS_RESUME_MAX_AGE_MS: '-1' })).toThrow(/LLMBUS_RESUME_MAX_AGE_MS/);
  });
});
