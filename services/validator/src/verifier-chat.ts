import { isTrustedForPii, type ModelProviders } from '@llmbus/models';
import { createPiiDetector, PiiMasker, PiiVault, resolvePiiPolicy, type PiiDetector } from '@llmbus/pii';
import type { VerifierChat } from '@llmbus/workflows';

/**
 * The verifier's model from the process's providers: the cheapest JSON-capable chat model of the
 * tier; a model not trusted with PII sees the claims and passages with entities masked (its
 * answer holds only verdicts and passage ids, so nothing needs restoring).
 */
export function verifierChat(
  providers: Pick<ModelProviders, 'select'>,
  detector: PiiDetector = createPiiDetector(),
): VerifierChat {
  const masker = new PiiMasker(detector);
  const actions = resolvePiiPolicy().prompts;
  return (request, tier) => {
    const { provider, model } = providers.select(tier, ['chat', 'json']);
    const messages = isTrustedForPii(model)
      ? request.messages
      : request.messages.map((m) => ({ ...m, content: masker.maskText(m.content, actions, new PiiVault()) }));
    return provider.chat({ ...request, model: model.id, messages });
  };
}
