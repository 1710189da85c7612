import { ScriptedModelProvider, type ModelEntry } from '@llmbus/models';
import { piiMinimisedModels } from './pii-minimisation';

const entry = (provider: 'local' | 'openai', capability: 'chat' | 'embeddings'): ModelEntry => ({
  id: `${provider}/${capability}`,
  provider,
  model: 'm',
  contextWindow: 4096,
  pricePer1MInputUsd: 0,
  pricePer1MOutputUsd: 0,
  capabilities: capability === 'chat' ? ['chat', 'json'] : ['embeddings'],
  tier: 'small',
  ...(capability === 'embeddings' && { embeddingDimension: 8 }),
});

describe('piiMinimisedModels', () => {
  const text = 'Escalation contact: Sofia Rossi, +44 20 7946 0321.';

  it('masks texts before an embedding model not trusted with PII', async () => {
    const model = new ScriptedModelProvider();
    const embed = jest.spyOn(model, 'embed');
    const { embedder } = piiMinimisedModels({
      embeddings: model,
      chat: model,
      embeddingModel: entry('openai', 'embeddings'),
      chatModel: entry('openai', 'chat'),
    });
    await embedder.embed([text]);
    expect(embed.mock.calls[0]![0]).toEqual(['Escalation contact: <PERSON_1>, <PHONE_1>.']);
  });

  it('masks the question for an untrusted decomposition model and restores its answer', async () => {
    const model = new ScriptedModelProvider().enqueueChat({ json: { queries: ['refunds for <PERSON_1>'] } });
    const { chat } = piiMinimisedModels({
      embeddings: model,
      chat: model,
      embeddingModel: entry('openai', 'embeddings'),
      chatModel: entry('openai', 'chat'),
    });
    const response = await chat.chat({
      messages: [{ role: 'user', content: 'Who handles refunds for Sofia Rossi?' }],
      responseSchema: { name: 'q', schema: { type: 'object' } },
    });
    expect(model.lastChatRequest!.messages[0]!.content).toBe('Who handles refunds for <PERSON_1>?');
    expect(response.json).toEqual({ queries: ['refunds for Sofia Rossi'] });
  });

  it('passes texts unchanged to trusted (local) models', async () => {
    const model = new ScriptedModelProvider();
    const { embedder, chat } = piiMinimisedModels({
      embeddings: model,
      chat: model,
      embeddingModel: entry('local', 'embeddings'),
      chatModel: entry('local', 'chat'),
    });
    expect(embedder).toBe(model);
    expect(chat).toBe(model);
  });
});
