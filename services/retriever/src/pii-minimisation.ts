import { isTrustedForPii, type ModelProviders } from '@llmbus/models';
import {
  createPiiDetector,
  PiiMasker,
  PiiVault,
  resolvePiiPolicy,
  restoreValue,
  type PiiDetector,
} from '@llmbus/pii';
import type { Embedder, StructuredChatModel } from '@llmbus/retrieval';

/**
 * The retriever's models as the PII policy allows them to be used: an embedding or chat model not
 * trusted with PII never receives raw entities. Texts to embed (document chunks, queries) are
 * masked with placeholders (the vectors do not need the values back); the query decomposer's
 * question is masked and its structured answer restored, so sub-queries search for the real values.
 */
export function piiMinimisedModels(
  providers: Pick<ModelProviders, 'embeddings' | 'chat' | 'embeddingModel' | 'chatModel'>,
  detector: PiiDetector = createPiiDetector(),
): { embedder: Embedder; chat: StructuredChatModel } {
  const masker = new PiiMasker(detector);
  const actions = resolvePiiPolicy().prompts;
  const embedder: Embedder = isTrustedForPii(providers.embeddingModel)
    ? providers.embeddings
    : {
        embed: (texts) =>
          providers.embeddings.embed(texts.map((text) => masker.maskText(text, actions, new PiiVault()))),
      };
  const chat: StructuredChatModel = isTrustedForPii(providers.chatModel)
    ? providers.chat
    : {
        chat: async (request) => {
          const vault = new PiiVault();
          const messages = request.messages.map((m) => ({
            ...m,
            content: masker.maskText(m.content, actions, vault),
          }));
          const response = await providers.chat.chat({ ...request, messages });
          return { ...response, json: restoreValue(response.json, vault) };
        },
      };
  return { embedder, chat };
}
