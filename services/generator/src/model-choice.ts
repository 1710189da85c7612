import type { ModelTier } from '@llmbus/contracts';
import { isTrustedForPii, type ModelProviders } from '@llmbus/models';
import type { ChatModelChoice } from './generator-deps';

/** Maps a workflow's model tier to the cheapest available chat model that produces JSON. */
export function chatModelChooser(providers: ModelProviders): (tier: ModelTier) => ChatModelChoice {
  return (tier) => {
    const choice = providers.select(tier, ['chat', 'json']);
    return {
      modelId: choice.model.id,
      contextWindow: choice.model.contextWindow,
      pricePer1MInputUsd: choice.model.pricePer1MInputUsd,
      pricePer1MOutputUsd: choice.model.pricePer1MOutputUsd,
      trustedForPii: isTrustedForPii(choice.model),
    };
  };
}
