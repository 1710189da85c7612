import { valuesAt } from './field-path';
import type { OutputValidation } from './output-validator';
import type { WorkflowDefinition } from './workflow-definition';

/**
 * What the validator does with a generation: release it, retry, escalate, or fail the request.
 * `problems` are the lines passed on: the violations, else the concerns behind a low confidence.
 */
export type ValidationOutcome =
  | { readonly kind: 'accept' }
  | {
      readonly kind: 'retry';
      readonly nextAttempt: number;
      readonly instruction: string;
      readonly problems: readonly string[];
    }
  | { readonly kind: 'review'; readonly reason: string; readonly problems: readonly string[] }
  | { readonly kind: 'fail'; readonly reason: string; readonly problems: readonly string[] };

/**
 * Decides a validation result of `attempt`, in order:
 * 1. an output value listed in `validation.forceReview` (e.g. needsHuman: true) goes to review;
 * 2. violations retry with the stricter instruction while attempts remain, then follow `onExhaustion`;
 * 3. with `validation.confidence`: at or above `accept` accept; from `retry` retry (then
 *    `onExhaustion`); below `retry` review at once, since a stricter prompt rarely rescues an
 *    answer with no evidence behind it. Without thresholds an output with no violations is accepted.
 */
export function decideOutcome(
  workflow: WorkflowDefinition,
  attempt: number,
  result: OutputValidation,
): ValidationOutcome {
  const { maxAttempts, stricterInstruction, onExhaustion, confidence } = workflow.validation;
  const score = result.assessment.confidence;
  const forced = forcedReview(workflow, result);
  if (forced.length > 0) {
    const problems = [...forced, ...result.violations, ...result.concerns];
    return {
      kind: 'review',
      reason: `the workflow sends this output to review (${forced.join('; ')}); confidence ${score}`,
      problems,
    };
  }
  const exhausted = (why: string, problems: readonly string[]): ValidationOutcome => {
    if (attempt < maxAttempts)
      return { kind: 'retry', nextAttempt: attempt + 1, instruction: stricterInstruction, problems };
    const reason = `the output ${why} after ${attempt} of ${maxAttempts} attempt(s): ${problems.join('; ')}`;
    return onExhaustion === 'review'
      ? { kind: 'review', reason, problems }
      : { kind: 'fail', reason, problems };
  };
  if (!result.valid) return exhausted('failed validation', result.violations);
  if (!confidence || score >= confidence.accept) return { kind: 'accept' };
  const problems = [
    `confidence ${score} is below the workflow's accept threshold ${confidence.accept}`,
    ...result.concerns,
  ];
  if (score >= confidence.retry) return exhausted('stayed below the confidence to accept', problems);
  return {
    kind: 'review',
    reason: `confidence ${score} is below the workflow's retry threshold ${confidence.retry}: ${problems.join('; ')}`,
    problems,
  };
}

/** One line per forceReview condition the output meets. */
function forcedReview(workflow: WorkflowDefinition, result: OutputValidation): string[] {
  const output = result.output;
  if (!output) return [];
  return (workflow.validation.forceReview ?? []).flatMap((c) => {
    const values = valuesAt({ output }, c.field);
    if (c.atLeast !== undefined) {
      const atLeast = c.atLeast;
      const over = values.filter((v): v is number => typeof v === 'number' && v >= atLeast);
      return over.length === 0
        ? []
        : [c.message ?? `${c.field} is ${Math.max(...over)}, at least ${atLeast}`];
    }
    return values.some((v) => v === c.equals)
      ? [c.message ?? `${c.field} is ${JSON.stringify(c.equals)}`]
      : [];
  });
}
