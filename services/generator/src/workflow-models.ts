import { ModelRegistryError } from '@llmbus/models';
import type { LoadedWorkflow } from '@llmbus/workflows';
import type { GeneratorDeps } from './generator-deps';

/**
 * Checks, when the generator starts, that every model a workflow pins (`model.id`) is in the model
 * registry; throws naming each workflow file and the field, so a typo or a model removed from the
 * registry stops the start instead of failing every request of that workflow at call time. A
 * pinned model the registry has but this process cannot call is left to call time (the error
 * then says why it is not live).
 */
export function assertWorkflowModelsKnown(
  workflows: readonly LoadedWorkflow[],
  selectModel: NonNullable<GeneratorDeps['selectModel']>,
): void {
  const problems = workflows.flatMap((workflow) => {
    const pin = workflow.model.id;
    if (pin === undefined) return [];
    try {
      selectModel(workflow.model.tier, { pin });
      return [];
    } catch (error) {
      if (error instanceof ModelRegistryError && error.code === 'unknown_model') {
        return [`${workflow.source}: model.id "${pin}" is not in the model registry (${error.message})`];
      }
      return [];
    }
  });
  if (problems.length > 0) throw new Error(problems.join('; '));
}
