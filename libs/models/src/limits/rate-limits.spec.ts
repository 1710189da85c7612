import { ModelRegistry, type ModelEntry } from '../registry/model-registry';
import { ScriptedModelProvider } from '../testing/scripted-model-provider';
import { MemoryRateLimitStore, type BucketDemand } from './rate-limit-store';
import { parseTenantRateLimits, RateLimitedModelProvider } from './rate-limited-model-provider';

const entry = (overrides: Partial<ModelEntry> = {}): ModelEntry => ({
  id: 'vendor/small',
  provider: 'openai',
  model: 'small',
  contextWindow: 8_000,
  pricePer1MInputUsd: 0.1,
  pricePer1MOutputUsd: 0.2,
  capabilities: ['chat', 'json'],
  tier: 'small',
  ...overrides,
});

/** A clock the test moves; `sleep` advances it instead of waiting. */
function fakeTime() {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: (ms: number) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
    advance: (ms: number) => {
      now += ms;
    },
    slept,
  };
}

const demand = (key: string, perMinute: number, cost: number): BucketDemand => ({
  key,
  name: key,
  perMinute,
  cost,
});

describe('MemoryRateLimitStore', () => {
  it('grants a full minute at once, then refills at the per-minute rate', async () => {
    const time = fakeTime();
    const store = new MemoryRateLimitStore(time.now);
    for (let i = 0; i < 60; i += 1) expect(await store.take([demand('a', 60, 1)])).toEqual({ granted: true });
    const refused = await store.take([demand('a', 60, 1)]);
    expect(refused).toMatchObject({ granted: false, waitMs: 1_000 });
    time.advance(1_000);
    expect(await store.take([demand('a', 60, 1)])).toEqual({ granted: true });
  });

  it('takes from every bucket or from none', async () => {
    const time = fakeTime();
    const store = new MemoryRateLimitStore(time.now);
    expect(await store.take([demand('tenant', 10, 1), demand('model', 1, 1)])).toEqual({ granted: true });
    const refused = await store.take([demand('tenant', 10, 1), demand('model', 1, 1)]);
    expect(refused).toMatchObject({ granted: false, limiting: { key: 'model' }, waitMs: 60_000 });
    // The tenant bucket was not charged by the refused take: 9 more fit.
    for (let i = 0; i < 9; i += 1)
      expect(await store.take([demand('tenant', 10, 1)])).toEqual({ granted: true });
    expect(await store.take([demand('tenant', 10, 1)])).toMatchObject({ granted: false });
  });

  it('settles the difference between the estimate and the billed tokens', async () => {
    const time = fakeTime();
    const store = new MemoryRateLimitStore(time.now);
    const tpm = demand('tpm', 1_000, 800);
    expect(await store.take([tpm])).toEqual({ granted: true });
    await store.settle(tpm, -700); // billed 100, not 800
    expect(await store.take([demand('tpm', 1_000, 900)])).toEqual({ granted: true });
  });
});

describe('RateLimitedModelProvider', () => {
  const limitedEntry = entry({ rpm: 2, tpm: 100_000 });
  const unlimitedEntry = entry({ id: 'vendor/unlimited' });
  const registry = ModelRegistry.fromEntries([limitedEntry, unlimitedEntry]);

  function setUp(options: { maxWaitMs?: number; tenants?: string; model?: ModelEntry } = {}) {
    const time = fakeTime();
    const inner = new ScriptedModelProvider({ modelId: limitedEntry.id });
    const provider = new RateLimitedModelProvider(inner, {
      registry,
      store: new MemoryRateLimitStore(time.now),
      defaultChatModel: options.model ?? limitedEntry,
      tenantLimits: parseTenantRateLimits(options.tenants),
      maxWaitMs: options.maxWaitMs ?? 30_000,
      now: time.now,
      sleep: time.sleep,
    });
    return { time, inner, provider };
  }
  const ask = { messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 10 };

  it("waits for the model's requests-per-minute bucket within the deadline", async () => {
    const { time, inner, provider } = setUp();
    inner.enqueueChat({ text: 'a' }, { text: 'b' }, { text: 'c' });
    await provider.chat(ask);
    await provider.chat(ask);
    expect(time.slept).toEqual([]);
    await provider.chat(ask);
    expect(time.slept).toEqual([30_000]); // 2 per minute: one more slot every 30 s
    expect(inner.chatCalls).toHaveLength(3);
  });

  it('fails rate_limited, naming the limit, when the wait would pass the deadline', async () => {
    const { inner, provider } = setUp({ maxWaitMs: 5_000 });
    inner.enqueueChat({ text: 'a' }, { text: 'b' });
    await provider.chat(ask);
    await provider.chat(ask);
    await expect(provider.chat(ask)).rejects.toMatchObject({
      code: 'rate_limited',
      retryAfterMs: 30_000,
      message: expect.stringContaining('vendor/small requests per minute (2)') as unknown,
    });
    expect(inner.chatCalls).toHaveLength(2);
  });

  it('uses the request timeout as the deadline when it has one', async () => {
    const { inner, provider } = setUp({ maxWaitMs: 60_000 });
    inner.enqueueChat({ text: 'a' }, { text: 'b' });
    await provider.chat(ask);
    await provider.chat(ask);
    await expect(provider.chat({ ...ask, timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('waits at most maxWaitMs even when the request has a longer deadline, and keeps that deadline for the call', async () => {
    // The generator's calls carry a 120 s deadline: a 30 s wait for a slot must still fail at once
    // when maxWaitMs is 5 s, so the bus can retry it when the slot is free (it used to wait the 30 s).
    const { time, inner, provider } = setUp({ maxWaitMs: 5_000 });
    inner.enqueueChat({ text: 'a' }, { text: 'b' }, { text: 'c' });
    await provider.chat({ ...ask, timeoutMs: 120_000 });
    await provider.chat({ ...ask, timeoutMs: 120_000 });
    await expect(provider.chat({ ...ask, timeoutMs: 120_000 })).rejects.toMatchObject({
      code: 'rate_limited',
      retryAfterMs: 30_000,
      message: expect.stringContaining(
        'vendor/small requests per minute (2); the next slot is in 30000 ms, beyond the 5000 ms this call may wait',
      ) as unknown,
    });
    expect(time.slept).toEqual([]);
    expect(inner.chatCalls).toHaveLength(2);
    // A wait within maxWaitMs is taken out of the call's own deadline, not capped by maxWaitMs.
    time.advance(27_000);
    await provider.chat({ ...ask, timeoutMs: 120_000 });
    expect(time.slept).toEqual([3_000]);
    expect(inner.chatCalls.at(-1)?.timeoutMs).toBe(117_000);
  });

  it('limits each tenant on its own, with * for tenants not listed', async () => {
    const { inner, provider } = setUp({
      tenants: '*=1/,acme=/50000',
      maxWaitMs: 0,
      model: unlimitedEntry,
    });
    const manyReplies = Array.from({ length: 3 }, () => ({ text: 'ok' }));
    inner.enqueueChat(...manyReplies);
    await provider.chat({ ...ask, tenant: 'globex' });
    await expect(provider.chat({ ...ask, tenant: 'globex' })).rejects.toMatchObject({
      code: 'rate_limited',
      message: expect.stringContaining('tenant globex requests per minute (1)') as unknown,
    });
    // acme has no request limit of its own (only tokens) and is not charged for globex's calls.
    await provider.chat({ ...ask, tenant: 'acme' });
    await provider.chat({ ...ask, tenant: 'initech' });
  });

  it('counts a call that names no tenant against the * limit, in a bucket of its own', async () => {
    const { inner, provider } = setUp({ tenants: '*=1/', maxWaitMs: 0, model: unlimitedEntry });
    inner.enqueueChat({ text: 'a' }, { text: 'b' });
    await provider.chat(ask);
    await expect(provider.chat(ask)).rejects.toMatchObject({
      code: 'rate_limited',
      message: expect.stringContaining(
        'calls without a tenant (limit "*") requests per minute (1)',
      ) as unknown,
    });
    // A tenant's own bucket is not charged for them.
    await provider.chat({ ...ask, tenant: 'globex' });
    expect(inner.chatCalls).toHaveLength(2);
  });

  it('refuses at once a call larger than a tokens-per-minute limit', async () => {
    const { provider } = setUp({ tenants: 'acme=/100' });
    await expect(provider.chat({ ...ask, tenant: 'acme', maxTokens: 500 })).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringContaining('tenant acme tokens per minute (100)') as unknown,
    });
  });
});

describe('parseTenantRateLimits', () => {
  it('reads tenant=rpm/tpm pairs', () => {
    expect(Object.fromEntries(parseTenantRateLimits('*=60/200000, acme=600/'))).toEqual({
      '*': { rpm: 60, tpm: 200_000 },
      acme: { rpm: 600 },
    });
  });

  it('names the bad part', () => {
    expect(() => parseTenantRateLimits('acme=60')).toThrow('"acme=60" is invalid');
    expect(() => parseTenantRateLimits('acme=0/')).toThrow('at least 1');
  });
});
