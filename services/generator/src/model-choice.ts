import type { ModelTier } from '@llmbus/contracts';
import { isTrustedForPii, type ModelProviders } from '@llmbus/models';
import type { ChatModelChoice, ModelSelection } from './generator-deps';

/**
 * Maps a workflow's model tier to the cheapest available chat model that produces JSON, or to the
 * model the workflow pins. Throws ModelRegistryError when the pinned model is not served here.
 */
export function chatModelChooser(
  providers: ModelProviders,
): (tier: ModelTier, selection?: ModelSelection) => ChatModelChoice {
  return (tier, selection = {}) => {
    const choice = providers.select(tier, ['chat', 'json'], selection);
    return {
      modelId: choice.model.id,
      contextWindow: choice.model.contextWindow,
      pricePer1MInputUsd: choice.model.pricePer1MInputUsd,
      pricePer1MOutputUsd: choice.model.pricePer1MOutputUsd,
      trustedForPii: isTrustedForPii(choice.model),
    };
  };
}
