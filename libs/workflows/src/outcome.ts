import type { OutputValidation } from './output-validator';
import type { WorkflowDefinition } from './workflow-definition';

/** What the validator does with a generation: release it, retry, escalate, or fail the request. */
export type ValidationOutcome =
  | { readonly kind: 'accept' }
  | { readonly kind: 'retry'; readonly nextAttempt: number; readonly instruction: string }
  | { readonly kind: 'review'; readonly reason: string }
  | { readonly kind: 'fail'; readonly reason: string };

/** Applies the workflow's retry budget and exhaustion policy to a validation result of `attempt`. */
export function decideOutcome(
  workflow: WorkflowDefinition,
  attempt: number,
  result: OutputValidation,
): ValidationOutcome {
  if (result.valid) return { kind: 'accept' };
  const { maxAttempts, stricterInstruction, onExhaustion } = workflow.validation;
  if (attempt < maxAttempts)
    return { kind: 'retry', nextAttempt: attempt + 1, instruction: stricterInstruction };
  const reason = `the output failed validation after ${attempt} of ${maxAttempts} attempt(s): ${result.violations.join('; ')}`;
  return onExhaustion === 'review' ? { kind: 'review', reason } : { kind: 'fail', reason };
}
