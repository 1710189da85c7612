import { ModelError } from './model-error';
import type { ChatRequest, EmbedOptions, ModelProvider } from './model-provider';

/**
 * Aborts every call of a set of providers at once, for a process that stops: `wrap` gives a
 * provider whose `chat` and `embed` calls carry this set's signal (merged with the caller's own),
 * and `abortInFlight` aborts it, so every call in progress, and every later one, fails with
 * ModelError `aborted`. The wrapped provider is the same object seen through a Proxy: its class
 * (instanceof) and its other members (a local provider's `warmUp`) stay as they were.
 */
export class ModelCallAborter {
  private readonly stopping = new AbortController();

  /** Aborts the calls in progress and refuses new ones; `reason` is in the ModelError's message. */
  abortInFlight(reason: string): void {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort(
      new ModelError('aborted', `the model call was aborted because the process is stopping (${reason})`),
    );
  }

  /** `provider`, its calls aborted by abortInFlight. */
  wrap<P extends ModelProvider>(provider: P): P {
    const merged = (signal: AbortSignal | undefined): AbortSignal =>
      signal === undefined ? this.stopping.signal : AbortSignal.any([signal, this.stopping.signal]);
    const chat = (request: ChatRequest) => provider.chat({ ...request, signal: merged(request.signal) });
    const embed = (texts: readonly string[], options: EmbedOptions = {}) =>
      provider.embed(texts, { ...options, signal: merged(options.signal) });
    return new Proxy(provider, {
      get(target, property) {
        if (property === 'chat') return chat;
        if (property === 'embed') return embed;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}
