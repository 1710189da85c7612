import { ModelError } from '../model-error';
import { ModelRegistry, type ModelEntry } from '../registry/model-registry';
import { ScriptedModelProvider } from '../testing/scripted-model-provider';
import { FallbackModelProvider } from './fallback-model-provider';

function entry(id: string, fallbacks?: string[]): ModelEntry {
  return {
    id,
    provider: 'openai',
    model: id,
    contextWindow: 8192,
    pricePer1MInputUsd: 1,
    pricePer1MOutputUsd: 1,
    capabilities: ['chat'],
    tier: 'small',
    fallbacks,
  };
}

const registry = ModelRegistry.fromEntries([entry('a', ['b', 'c']), entry('b'), entry('c')]);
const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

function setUp(options: { failureThreshold?: number } = {}) {
  const providers = {
    a: new ScriptedModelProvider(),
    b: new ScriptedModelProvider(),
    c: new ScriptedModelProvider(),
  };
  let clock = 1_000_000;
  const fallback = new FallbackModelProvider({
    registry,
    providerFor: (e) => providers[e.id as keyof typeof providers],
    defaultChatModel: registry.get('a'),
    failureThreshold: options.failureThreshold ?? 5,
    now: () => clock,
  });
  return { providers, fallback, advance: (ms: number) => (clock += ms) };
}

describe('FallbackModelProvider', () => {
  it.each(['unavailable', 'rate_limited', 'timeout'] as const)(
    'moves to the next model on %s',
    async (code) => {
      const { providers, fallback } = setUp();
      providers.a.enqueueChat(new ModelError(code, `a is ${code}`));
      providers.b.enqueueChat({ text: 'from b' });
      const reply = await fallback.chat(ask);
      expect(reply.text).toBe('from b');
      expect(providers.b.lastChatRequest?.model).toBe('b');
    },
  );

  it('reports the models that failed before the answering one in its usage, in the order tried', async () => {
    const { providers, fallback, advance } = setUp();
    providers.a.enqueueChat(new ModelError('rate_limited', 'a: 429 Too Many Requests'));
    providers.b.enqueueChat(new ModelError('timeout', 'b: no answer within 30000 ms'));
    providers.c.enqueueChat({ text: 'from c' });
    jest.spyOn(providers.b, 'chat').mockImplementationOnce(async () => {
      advance(1_500);
      throw new ModelError('timeout', 'b: no answer within 30000 ms');
    });
    const reply = await fallback.chat(ask);
    expect(reply.usage.modelId).toBe('c');
    expect(reply.usage.fallbackAttempts).toEqual([
      {
        modelId: 'a',
        provider: 'scripted',
        code: 'rate_limited',
        latencyMs: 0,
        message: 'a: 429 Too Many Requests',
      },
      {
        modelId: 'b',
        provider: 'scripted',
        code: 'timeout',
        latencyMs: 1_500,
        message: 'b: no answer within 30000 ms',
      },
    ]);
    // A call the first model answers carries no attempts.
    providers.a.enqueueChat({ text: 'from a' });
    expect((await fallback.chat(ask)).usage.fallbackAttempts).toBeUndefined();
  });

  it('tries the fallbacks in order and throws the last failure when all fail', async () => {
    const { providers, fallback } = setUp();
    providers.a.enqueueChat(new ModelError('unavailable', 'a down'));
    providers.b.enqueueChat(new ModelError('timeout', 'b slow'));
    providers.c.enqueueChat(new ModelError('unavailable', 'c down'));
    await expect(fallback.chat(ask)).rejects.toThrow('c down');
    expect([providers.a, providers.b, providers.c].map((p) => p.chatCalls.length)).toEqual([1, 1, 1]);
  });

  it('does not fall back on an error of the request itself', async () => {
    const { providers, fallback } = setUp();
    providers.a.enqueueChat(new ModelError('bad_request', 'schema is invalid'));
    await expect(fallback.chat(ask)).rejects.toMatchObject({ code: 'bad_request' });
    expect(providers.b.chatCalls).toHaveLength(0);
  });

  it('skips a model that failed repeatedly for the cool-down, without calling it', async () => {
    const { providers, fallback } = setUp({ failureThreshold: 2 });
    for (let i = 0; i < 2; i++) {
      providers.a.enqueueChat(new ModelError('unavailable', 'a down'));
      providers.b.enqueueChat({ text: 'from b' });
      await fallback.chat(ask);
    }
    providers.b.enqueueChat({ text: 'from b again' });
    const reply = await fallback.chat(ask);
    expect(reply.text).toBe('from b again');
    expect(providers.a.chatCalls).toHaveLength(2);
  });

  it('honours Retry-After: the model is skipped until then, and called again after', async () => {
    const { providers, fallback, advance } = setUp();
    providers.a.enqueueChat(new ModelError('rate_limited', 'slow down', { retryAfterMs: 5000 }));
    providers.b.enqueueChat({ text: 'b1' }, { text: 'b2' });
    await fallback.chat(ask);
    advance(4000);
    expect((await fallback.chat(ask)).text).toBe('b2');
    expect(providers.a.chatCalls).toHaveLength(1);
    advance(1001);
    providers.a.enqueueChat({ text: 'a again' });
    expect((await fallback.chat(ask)).text).toBe('a again');
  });

  it('fails with rate_limited carrying the earliest Retry-After when every model is waiting', async () => {
    const { providers, fallback } = setUp();
    providers.a.enqueueChat(new ModelError('rate_limited', 'a', { retryAfterMs: 9000 }));
    providers.b.enqueueChat(new ModelError('rate_limited', 'b', { retryAfterMs: 2000 }));
    providers.c.enqueueChat(new ModelError('rate_limited', 'c', { retryAfterMs: 7000 }));
    await expect(fallback.chat(ask)).rejects.toMatchObject({ code: 'rate_limited', retryAfterMs: 2000 });
  });

  it('refuses a registry whose fallback names an unknown model', () => {
    expect(() => ModelRegistry.fromEntries([entry('a', ['z'])])).toThrow(
      'fallback "z" is not an id of this registry',
    );
  });
});
