import type { ChatDelta, ChatRequest, ChatResponse, ModelProvider } from './model-provider';

/** Deltas as an async iterable, plus the final response (usage, tool calls, parsed JSON). */
export interface ChatStream extends AsyncIterable<ChatDelta> {
  readonly response: Promise<ChatResponse>;
}

/**
 * Streams a chat call of any provider as an async iterable of deltas. The iteration ends when the
 * call completes and throws the call's ModelError if it fails; leaving the loop early aborts the call.
 */
export function streamChat(provider: ModelProvider, request: Omit<ChatRequest, 'onDelta'>): ChatStream {
  const stopper = new AbortController();
  const signal =
    request.signal === undefined ? stopper.signal : AbortSignal.any([request.signal, stopper.signal]);
  const pending: ChatDelta[] = [];
  let wake: (() => void) | undefined;
  let settled = false;

  const response = provider.chat({
    ...request,
    signal,
    onDelta: (delta) => {
      pending.push(delta);
      wake?.();
    },
  });
  // Handled here so a consumer that only iterates does not leave an unhandled rejection behind.
  response.then(
    () => undefined,
    () => undefined,
  );
  void response
    .finally(() => {
      settled = true;
      wake?.();
    })
    .catch(() => undefined);

  async function* deltas(): AsyncGenerator<ChatDelta> {
    try {
      for (;;) {
        const next = pending.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (settled) {
          await response; // rethrows the call's error
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      if (!settled) stopper.abort();
    }
  }

  return { response, [Symbol.asyncIterator]: () => deltas() };
}
