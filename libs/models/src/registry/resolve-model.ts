import { ModelError } from '../model-error';
import type { ModelCapability, ModelEntry, ModelProviderKind, ModelRegistry } from './model-registry';

/**
 * The registry entry a request asks for (`requested` id) or the provider's default, checked to be
 * served by this provider and to have every capability; anything else is `bad_request`.
 */
export function resolveModelEntry(
  registry: ModelRegistry,
  requested: string | undefined,
  fallback: ModelEntry | undefined,
  provider: ModelProviderKind,
  capabilities: readonly ModelCapability[],
): ModelEntry {
  const entry = requested === undefined ? fallback : registry.find(requested);
  if (entry === undefined) {
    throw new ModelError(
      'bad_request',
      requested === undefined
        ? `the ${provider} provider has no default ${capabilities[0] ?? 'chat'} model configured; pass a model id or configure one`
        : `model "${requested}" is not in the model registry; use one of ${registry.entries.map((e) => e.id).join(', ')}`,
      { provider },
    );
  }
  if (entry.provider !== provider) {
    throw new ModelError(
      'bad_request',
      `model "${entry.id}" is served by the ${entry.provider} provider, not ${provider}; route it to the right provider`,
      { provider, modelId: entry.id },
    );
  }
  const missing = capabilities.filter((capability) => !entry.capabilities.includes(capability));
  if (missing.length > 0) {
    throw new ModelError(
      'bad_request',
      `model "${entry.id}" lacks the ${missing.map((c) => `"${c}"`).join(', ')} capability (has ${entry.capabilities.join(', ')}); pick another model`,
      { provider, modelId: entry.id },
    );
  }
  return entry;
}
