import { isTrustedForPii, type ModelProviders } from '@llmbus/models';
import { createPiiDetector, PiiMasker, PiiVault, resolvePiiPolicy, type PiiDetector } from '@llmbus/pii';
import type { ClassifierModels } from '@llmbus/workflows';

/**
 * The classifier step's models from the process's providers, as the PII policy allows: a model
 * not trusted with PII sees the request's text with its entities masked (a label needs no names).
 */
export function classifierModels(
  providers: Pick<ModelProviders, 'embeddings' | 'embeddingModel' | 'select'>,
  detector: PiiDetector = createPiiDetector(),
): ClassifierModels {
  const masker = new PiiMasker(detector);
  const actions = resolvePiiPolicy().prompts;
  const mask = (text: string) => masker.maskText(text, actions, new PiiVault());
  const embedTrusted = isTrustedForPii(providers.embeddingModel);
  return {
    embed: async (texts) =>
      (await providers.embeddings.embed(embedTrusted ? texts : texts.map(mask))).vectors,
    chat: (request, tier) => {
      const { provider, model } = providers.select(tier, ['chat', 'json']);
      const messages = isTrustedForPii(model)
        ? request.messages
        : request.messages.map((m) => ({ ...m, content: mask(m.content) }));
      return provider.chat({ ...request, model: model.id, messages });
    },
  };
}
