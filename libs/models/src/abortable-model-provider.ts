import { ModelError } from './model-error';
import type {
  ChatRequest,
  ChatResponse,
  EmbedOptions,
  EmbedResponse,
  ModelProvider,
  ModelTokenCounter,
} from './model-provider';

/**
 * A provider whose calls can all be aborted at once, for a process that stops: `abortInFlight`
 * aborts every call in progress and every later one with ModelError `aborted`, through each call's
 * AbortSignal (merged with the caller's own). Everything else passes through.
 */
export class AbortableModelProvider implements ModelProvider {
  private readonly stopping: AbortController;

  /** `stopping`: shared by the providers of one set, so one abort reaches chat and embeddings. */
  constructor(
    private readonly inner: ModelProvider,
    stopping: AbortController = new AbortController(),
  ) {
    this.stopping = stopping;
  }

  get name(): string {
    return this.inner.name;
  }

  /** Aborts the calls in progress and refuses new ones; `reason` is in the ModelError's message. */
  abortInFlight(reason: string): void {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort(
      new ModelError('aborted', `the model call was aborted because the process is stopping (${reason})`, {
        provider: this.inner.name,
      }),
    );
  }

  chat(request: ChatRequest): Promise<ChatResponse> {
    return this.inner.chat({ ...request, signal: this.merged(request.signal) });
  }

  embed(texts: readonly string[], options: EmbedOptions = {}): Promise<EmbedResponse> {
    return this.inner.embed(texts, { ...options, signal: this.merged(options.signal) });
  }

  tokenCounter(model?: string): Promise<ModelTokenCounter | undefined> {
    return this.inner.tokenCounter?.(model) ?? Promise.resolve(undefined);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private merged(signal: AbortSignal | undefined): AbortSignal {
    return signal === undefined ? this.stopping.signal : AbortSignal.any([signal, this.stopping.signal]);
  }
}
