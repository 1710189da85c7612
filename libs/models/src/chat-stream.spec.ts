import { streamChat } from './chat-stream';
import { ModelError } from './model-error';
import { ScriptedModelProvider } from './testing/scripted-model-provider';

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('streamChat', () => {
  it('yields the deltas in order and exposes the final response', async () => {
    const model = new ScriptedModelProvider().enqueueChat({
      text: 'Hello there friend',
      deltas: ['Hello', ' there', ' friend'],
    });
    const stream = streamChat(model, ask);
    const seen: string[] = [];
    for await (const delta of stream) seen.push(delta.text);
    expect(seen).toEqual(['Hello', ' there', ' friend']);
    expect((await stream.response).text).toBe('Hello there friend');
  });

  it('throws the call error from the iteration', async () => {
    const model = new ScriptedModelProvider().enqueueChat(new ModelError('unavailable', 'down'));
    const stream = streamChat(model, ask);
    await expect(
      (async () => {
        for await (const _delta of stream) {
          // drain
        }
      })(),
    ).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('aborts the call when the consumer leaves the loop early', async () => {
    const model = new ScriptedModelProvider().enqueueChat(async (request) => {
      request.onDelta?.({ text: 'first' });
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { text: 'first second', deltas: [] };
    });
    const stream = streamChat(model, ask);
    for await (const delta of stream) {
      expect(delta.text).toBe('first');
      break;
    }
    expect(model.lastChatRequest?.signal?.aborted).toBe(true);
  });
});
