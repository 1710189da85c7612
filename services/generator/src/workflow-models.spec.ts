import { EventBus, InMemoryTransport } from '@llmbus/bus';
import { loadPlatformConfig } from '@llmbus/config';
import { ModelRegistry, ScriptedModelProvider, type ModelEntry } from '@llmbus/models';
import { parseWorkflowDocument, WorkflowRegistry } from '@llmbus/workflows';
import pino from 'pino';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatModelChoice, ModelSelection } from './generator-deps';
import { GeneratorModule } from './generator.module';
import { assertWorkflowModelsKnown } from './workflow-models';

const SUPPORT = readFileSync(
  join(__dirname, '..', '..', '..', 'workflows', 'support-ticket.v1.yaml'),
  'utf8',
);
const pinned = (id: string, file: string) =>
  parseWorkflowDocument(SUPPORT.replace('model:\n  tier: small', `model:\n  tier: small\n  id: ${id}`), file);

const small: ModelEntry = {
  id: 'vendor/small',
  provider: 'openai',
  model: 'small',
  contextWindow: 8_000,
  pricePer1MInputUsd: 0.1,
  pricePer1MOutputUsd: 0.2,
  capabilities: ['chat', 'json'],
  tier: 'small',
};
const registry = ModelRegistry.fromEntries([small]);
/** Resolves a pin through the real registry, as the generator's chooser does. */
const selectModel = (_tier: unknown, options: ModelSelection = {}): ChatModelChoice => {
  const entry = options.pin === undefined ? small : registry.get(options.pin);
  return { modelId: entry.id, contextWindow: entry.contextWindow };
};

describe('assertWorkflowModelsKnown', () => {
  it('stops the start naming the workflow file and model.id when a workflow pins a model the registry lacks', () => {
    expect(() =>
      assertWorkflowModelsKnown(
        [pinned('vendor/small', 'ok.v1.yaml'), pinned('vendor/smal', 'workflows/typo.v1.yaml')],
        selectModel,
      ),
    ).toThrow(
      'workflows/typo.v1.yaml: model.id "vendor/smal" is not in the model registry (model "vendor/smal" is not in the model registry; known ids: vendor/small)',
    );
  });

  it('accepts workflows that pin a registered model or pin none', () => {
    const unpinned = parseWorkflowDocument(SUPPORT, 'support-ticket.v1.yaml');
    expect(unpinned.model.id).toBeUndefined();
    expect(() =>
      assertWorkflowModelsKnown([pinned('vendor/small', 'ok.v1.yaml'), unpinned], selectModel),
    ).not.toThrow();
  });

  it('is checked when the generator module is wired: the stage does not start', async () => {
    const logger = pino({ level: 'silent' });
    const bus = new EventBus(new InMemoryTransport(), { logger });
    try {
      expect(() =>
        GeneratorModule.forRoot({
          bus,
          logger,
          config: loadPlatformConfig({}, { mode: 'embedded', httpPort: 0, clientId: 'test' }),
          models: new ScriptedModelProvider(),
          selectModel,
          workflows: new WorkflowRegistry([pinned('openai/gpt-5-typo', 'pinned.v1.yaml')]),
        }),
      ).toThrow('pinned.v1.yaml: model.id "openai/gpt-5-typo" is not in the model registry');
    } finally {
      await bus.close();
    }
  });
});
