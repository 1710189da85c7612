import { BuiltinToolAdapter } from './builtin-tools';
import {
  MemoryToolCallClaims,
  RedisToolCallClaims,
  ToolClaimUnavailableError,
  toolClaimKey,
  type RedisClaimCommands,
  type ToolCallClaims,
} from './tool-call-claims';
import type { ToolDefinition } from './tool-definition';
import { ToolGate, type ToolAllowlist, type ToolCallRequest } from './tool-gate';
import { parseToolDocument } from './tool-loader';
import { ToolRegistry } from './tool-registry';

const args = { type: 'object', properties: { service: { type: 'string' } } };

/** A registry of counted tools: `apply` (write), `restart` (high), `look` (read), `keyed` (write http, retryUncertain). */
function setUp(store: ToolCallClaims, runs: Record<string, number> = {}) {
  const builtins = new BuiltinToolAdapter();
  for (const name of ['apply', 'restart', 'look', 'keyed']) {
    builtins.register({
      name,
      description: name,
      argumentsSchema: args,
      run: () => {
        runs[name] = (runs[name] ?? 0) + 1;
        return Promise.resolve({ ok: true });
      },
    });
  }
  const def = (name: string, risk: ToolDefinition['risk'], extra: Partial<ToolDefinition> = {}) =>
    ({
      name,
      description: name,
      kind: 'builtin',
      argumentsSchema: args,
      maxResultBytes: 1024,
      timeoutMs: 1000,
      risk,
      tenants: ['*'],
      cacheable: false,
      ...extra,
    }) as ToolDefinition;
  const registry = new ToolRegistry()
    .add(def('apply', 'write'), builtins)
    .add(def('restart', 'high'), builtins)
    .add(def('look', 'read'), builtins)
    .add(def('keyed', 'write', { kind: 'http', retryUncertain: true }), builtins);
  return { gate: new ToolGate(registry, undefined, { store, namespace: 'test.' }), runs };
}

const allowlist: ToolAllowlist = { tools: ['apply', 'restart', 'look', 'keyed'], maxToolRounds: 3 };
const request = (tool: string, id = `req-1.a1.t1.0`, tenant = 'acme'): ToolCallRequest => ({
  call: { id, tool, arguments: { service: 'payments' } },
  allowlist,
  tenant,
  round: 1,
});
const signal = new AbortController().signal;

describe('execution claims of side-effecting tool calls', () => {
  it('runs a write call once: a redelivery of the same call id is outcome_unknown, not a second run', async () => {
    const store = new MemoryToolCallClaims();
    const { gate, runs } = setUp(store);
    expect((await gate.execute(request('apply'), signal)).kind).toBe('completed');
    // The process died before the round was recorded; the one after it shares the store.
    const restarted = setUp(store, runs).gate;
    const again = await restarted.execute(request('apply'), signal);
    expect(again.kind).toBe('outcome_unknown');
    expect(runs['apply']).toBe(1);
    // Another call id, or the same id in another tenant, is another call.
    expect((await gate.execute(request('apply', 'req-1.a1.t1.1'), signal)).kind).toBe('completed');
    expect((await gate.execute(request('apply', 'req-1.a1.t1.0', 'other'), signal)).kind).toBe('completed');
    expect(runs['apply']).toBe(3);
  });

  it('runs a read call again on redelivery (no side effect, no claim)', async () => {
    const store = new MemoryToolCallClaims();
    const claim = jest.spyOn(store, 'claim');
    const { gate, runs } = setUp(store);
    await gate.execute(request('look'), signal);
    await gate.execute(request('look'), signal);
    expect(runs['look']).toBe(2);
    expect(claim).not.toHaveBeenCalled();
  });

  it('claims an approved high call: a redelivered decision does not run it again', async () => {
    const store = new MemoryToolCallClaims();
    const { gate, runs } = setUp(store);
    const first = await gate.execute(request('restart'), signal);
    expect(first.kind).toBe('needs_approval');
    const hash = first.kind === 'needs_approval' ? first.callHash : '';
    expect((await gate.execute(request('restart'), signal, hash)).kind).toBe('completed');
    const restarted = setUp(store, runs).gate;
    expect((await restarted.execute(request('restart'), signal, hash)).kind).toBe('outcome_unknown');
    expect(runs['restart']).toBe(1);
  });

  it('re-sends a call of an http tool declaring retryUncertain (the endpoint dedupes by Idempotency-Key)', async () => {
    const store = new MemoryToolCallClaims();
    const { gate, runs } = setUp(store);
    expect((await gate.execute(request('keyed'), signal)).kind).toBe('completed');
    const restarted = setUp(store, runs).gate;
    expect((await restarted.execute(request('keyed'), signal)).kind).toBe('completed');
    expect(runs['keyed']).toBe(2);
  });

  it('a handling retried in the same process gets the known outcome of a call it ran, without running it again', async () => {
    const store = new MemoryToolCallClaims();
    const claim = jest.spyOn(store, 'claim');
    const { gate, runs } = setUp(store);
    const first = await gate.execute(request('apply'), signal);
    const retried = await gate.execute(request('apply'), signal);
    expect(retried).toEqual(first);
    expect(retried.kind).toBe('completed');
    expect(runs['apply']).toBe(1);
    expect(claim).toHaveBeenCalledTimes(1);
  });

  it('a claim store that cannot answer fails the call as retryable and runs nothing', async () => {
    const down: ToolCallClaims = {
      claim: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
    };
    const { gate, runs } = setUp(down);
    const error = await gate.execute(request('apply'), signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolClaimUnavailableError);
    expect((error as ToolClaimUnavailableError).retryable).toBe(true);
    expect((error as Error).message).toContain('req-1.a1.t1.0');
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect(runs['apply']).toBeUndefined();
    // Reads need no claim, so they still run.
    expect((await gate.execute(request('look'), signal)).kind).toBe('completed');
  });

  it('keys claims by namespace, tenant and call id', () => {
    expect(toolClaimKey('p.', 'a:b', 'r.a1.t1.0')).toBe('p.a%3Ab:r.a1.t1.0');
  });
});

describe('claim stores', () => {
  it('memory: a claim holds until its TTL, and the oldest is dropped beyond the bound', async () => {
    let now = 1000;
    const store = new MemoryToolCallClaims(2, () => now);
    expect(await store.claim('a', 100)).toBe(true);
    expect(await store.claim('a', 100)).toBe(false);
    now = 1100;
    expect(await store.claim('a', 100)).toBe(true);
    await store.claim('b', 100);
    await store.claim('c', 100);
    expect(await store.claim('a', 100)).toBe(true);
  });

  it('redis: SET NX with PX; an existing key is not taken; an error rejects', async () => {
    const keys = new Map<string, string>();
    const calls: unknown[][] = [];
    const redis: RedisClaimCommands = {
      set: (key, value, px, ttl, nx) => {
        calls.push([key, px, ttl, nx]);
        if (keys.has(key)) return Promise.resolve(null);
        keys.set(key, value);
        return Promise.resolve('OK');
      },
      quit: () => Promise.resolve('OK'),
    };
    const store = new RedisToolCallClaims(redis);
    expect(await store.claim('t:c1', 60_000)).toBe(true);
    expect(await store.claim('t:c1', 60_000)).toBe(false);
    expect(calls[0]).toEqual(['llmbus:tool-claim:t:c1', 'PX', 60_000, 'NX']);
    const failing = new RedisToolCallClaims({
      set: () => Promise.reject(new Error('Command timed out')),
      quit: () => Promise.resolve('OK'),
    });
    await expect(failing.claim('t:c2', 1000)).rejects.toThrow('Command timed out');
  });
});

describe('retryUncertain in tool files', () => {
  const file = (kind: string, extra: string) => `
httpHosts: [127.0.0.1:8089]
tools:
  - name: act
    kind: ${kind}
    risk: write
    tenants: ['*']
    timeoutMs: 5000
    maxResultBytes: 2048
${extra}
    retryUncertain: true
`;
  it('is accepted on an http tool', () => {
    const config = parseToolDocument(
      file('http', '    description: d\n    url: http://127.0.0.1:8089/act\n    arguments: { type: object }'),
      'tools/ok.yaml',
    );
    expect(config.tools[0]?.retryUncertain).toBe(true);
  });

  it('is refused on builtin and mcp tools, naming the file, the field and why', () => {
    expect(() => parseToolDocument(file('builtin', ''), 'tools/bad.yaml')).toThrow(
      'tools/bad.yaml: tools[0].retryUncertain: only valid for http tools',
    );
    const mcp = `
mcpServers:
  - { name: inv, transport: { type: stdio, command: node } }
tools:
  - { name: act, kind: mcp, server: inv, risk: write, tenants: ['*'], timeoutMs: 5000, maxResultBytes: 2048, retryUncertain: true }
`;
    expect(() => parseToolDocument(mcp, 'tools/bad.yaml')).toThrow(
      'tools[0].retryUncertain: only valid for http tools',
    );
  });

  it('must be a boolean', () => {
    expect(() =>
      parseToolDocument(
        file(
          'http',
          '    description: d\n    url: http://127.0.0.1:8089/act\n    arguments: { type: object }',
        ).replace('retryUncertain: true', 'retryUncertain: yes-please'),
        'tools/bad.yaml',
      ),
    ).toThrow('tools[0].retryUncertain: must be boolean');
  });
});
