import { ModelCallAborter } from './model-call-aborter';
import { ModelError } from './model-error';
import type { ChatRequest, ChatResponse, EmbedOptions, EmbedResponse, ModelProvider } from './model-provider';

/** A provider whose calls never answer: they end only when their signal aborts, with its reason. */
class SilentProvider implements ModelProvider {
  readonly name = 'silent';
  readonly signals: AbortSignal[] = [];

  chat(request: ChatRequest): Promise<ChatResponse> {
    return this.wait(request.signal);
  }

  embed(_texts: readonly string[], options: EmbedOptions = {}): Promise<EmbedResponse> {
    return this.wait(options.signal);
  }

  /** A member beyond the ModelProvider port, as a local provider's warmUp. */
  warmUp(): string {
    return `${this.name} is warm`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private wait<T>(signal: AbortSignal | undefined): Promise<T> {
    if (signal) this.signals.push(signal);
    return new Promise<T>((_, reject) => {
      if (signal?.aborted) reject(signal.reason);
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}

const request: ChatRequest = { messages: [{ role: 'user', content: 'hello' }] };

describe('ModelCallAborter', () => {
  it('aborts the calls in flight, chat and embeddings, with ModelError aborted naming the reason', async () => {
    const aborter = new ModelCallAborter();
    const chat = aborter.wrap(new SilentProvider());
    const embeddings = aborter.wrap(new SilentProvider());
    const call = chat.chat(request);
    const embedding = embeddings.embed(['a']);

    aborter.abortInFlight('stopped after a grace period of 10 ms');

    const error = await call.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ code: 'aborted', retryable: false });
    expect((error as Error).message).toContain(
      'the process is stopping (stopped after a grace period of 10 ms)',
    );
    await expect(embedding).rejects.toMatchObject({ code: 'aborted' });
  });

  it('refuses calls made after the abort', async () => {
    const aborter = new ModelCallAborter();
    const chat = aborter.wrap(new SilentProvider());
    aborter.abortInFlight('stopping');

    await expect(chat.chat(request)).rejects.toMatchObject({ code: 'aborted' });
  });

  it("keeps the caller's own signal: aborting it ends that call only", async () => {
    const aborter = new ModelCallAborter();
    const inner = new SilentProvider();
    const chat = aborter.wrap(inner);
    const caller = new AbortController();
    const mine = chat.chat({ ...request, signal: caller.signal });
    const other = chat.chat(request);

    caller.abort(new ModelError('aborted', 'the caller gave up'));

    await expect(mine).rejects.toThrow('the caller gave up');
    expect(inner.signals[1].aborted).toBe(false);
    aborter.abortInFlight('cleanup');
    await expect(other).rejects.toMatchObject({ code: 'aborted' });
  });

  it('leaves the provider as it was otherwise: its class, name and other members', () => {
    const chat = new ModelCallAborter().wrap(new SilentProvider());

    expect(chat).toBeInstanceOf(SilentProvider);
    expect(chat.name).toBe('silent');
    expect(chat.warmUp()).toBe('silent is warm');
  });
});
