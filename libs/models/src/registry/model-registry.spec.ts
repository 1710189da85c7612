import { readFileSync } from 'node:fs';
import { DEFAULT_MODEL_REGISTRY_PATH } from './model-registry-file';
import { ModelRegistry, ModelRegistryError, computeCostUsd, type ModelEntry } from './model-registry';

const entry = (overrides: Partial<ModelEntry> = {}): ModelEntry => ({
  id: 'openai/small',
  provider: 'openai',
  model: 'small-model',
  contextWindow: 8000,
  pricePer1MInputUsd: 1,
  pricePer1MOutputUsd: 2,
  capabilities: ['chat', 'json'],
  tier: 'small',
  ...overrides,
});

function registryError(document: unknown): ModelRegistryError {
  try {
    ModelRegistry.fromConfig(document, 'test-registry.json');
  } catch (error) {
    if (error instanceof ModelRegistryError) return error;
    throw error;
  }
  throw new Error('expected the registry to be rejected');
}

describe('ModelRegistry validation', () => {
  it('accepts the checked-in models.registry.json', () => {
    const document: unknown = JSON.parse(readFileSync(DEFAULT_MODEL_REGISTRY_PATH, 'utf8'));
    const registry = ModelRegistry.fromConfig(document);
    expect(registry.get('local/all-minilm-l6-v2').embeddingDimension).toBe(384);
    expect(registry.get('local/gemma-3-270m').capabilities).toEqual(['chat', 'json', 'tools']);
  });

  it('names the entry and the field when a required field is missing', () => {
    const { contextWindow: _omitted, ...withoutWindow } = entry({ id: 'openai/broken' });
    const error = registryError({ models: [entry(), withoutWindow] });
    expect(error.code).toBe('invalid_registry');
    expect(error.message).toContain('models[1] (id "openai/broken"): field "contextWindow" is required');
    expect(error.message).toContain('test-registry.json');
  });

  it('names the field and allowed values when an enum is wrong', () => {
    const error = registryError({ models: [{ ...entry(), tier: 'medium' }] });
    expect(error.message).toContain(
      'models[0] (id "openai/small"): field "tier" must be one of ["small","large"]',
    );
  });

  it('rejects a negative price naming the field', () => {
    const error = registryError({ models: [entry({ pricePer1MOutputUsd: -1 })] });
    expect(error.message).toContain('field "pricePer1MOutputUsd" must be >= 0');
  });

  it('requires embeddingDimension for embedding models and forbids it elsewhere', () => {
    expect(registryError({ models: [entry({ capabilities: ['embeddings'] })] }).message).toContain(
      'field "embeddingDimension" is required',
    );
    expect(registryError({ models: [entry({ embeddingDimension: 8 })] }).message).toContain(
      '"embeddingDimension" is only allowed when capabilities include "embeddings"',
    );
  });

  it('rejects unknown fields and unknown capabilities', () => {
    expect(registryError({ models: [{ ...entry(), price: 3 }] }).message).toContain('unknown field "price"');
    expect(registryError({ models: [entry({ capabilities: ['vision' as never] })] }).message).toContain(
      'field "capabilities.0"',
    );
  });

  it('rejects duplicate ids', () => {
    expect(registryError({ models: [entry(), entry()] }).message).toContain('duplicates an earlier entry');
  });
});

describe('ModelRegistry selection and cost', () => {
  const registry = ModelRegistry.fromEntries([
    entry({
      id: 'a/large',
      tier: 'large',
      pricePer1MInputUsd: 5,
      pricePer1MOutputUsd: 15,
      capabilities: ['chat', 'json', 'tools'],
    }),
    entry({ id: 'a/small-pricey', pricePer1MInputUsd: 3, capabilities: ['chat', 'json', 'tools'] }),
    entry({
      id: 'a/small-cheap',
      pricePer1MInputUsd: 0.1,
      pricePer1MOutputUsd: 0.2,
      capabilities: ['chat', 'json'],
    }),
    entry({
      id: 'l/local',
      provider: 'local',
      pricePer1MInputUsd: 0,
      pricePer1MOutputUsd: 0,
      capabilities: ['chat'],
    }),
  ]);

  it('picks the cheapest model with the tier and every capability', () => {
    expect(registry.pick({ tier: 'small', capabilities: ['chat', 'json'] }).id).toBe('a/small-cheap');
    expect(registry.pick({ tier: 'small', capabilities: ['tools'] }).id).toBe('a/small-pricey');
    expect(registry.pick({ tier: 'large', capabilities: ['chat'] }).id).toBe('a/large');
  });

  it('restricts the pick to the given providers', () => {
    expect(registry.pick({ capabilities: ['chat'], providers: ['local'] }).id).toBe('l/local');
  });

  it('fails with no_matching_model when nothing fits', () => {
    expect(() => registry.pick({ tier: 'large', capabilities: ['embeddings'] })).toThrow(
      expect.objectContaining({ code: 'no_matching_model' }),
    );
  });

  it('fails with unknown_model listing the known ids', () => {
    expect(() => registry.get('nope')).toThrow(
      /model "nope" is not in the model registry; known ids: a\/large/,
    );
  });

  it('computes cost from per-1M-token prices', () => {
    expect(
      computeCostUsd(entry({ pricePer1MInputUsd: 0.15, pricePer1MOutputUsd: 0.6 }), 1000, 500),
    ).toBeCloseTo(0.00045, 12);
    expect(registry.costUsd('a/large', 1_000_000, 1_000_000)).toBe(20);
    expect(registry.costUsd('l/local', 123_456, 789)).toBe(0);
  });
});
