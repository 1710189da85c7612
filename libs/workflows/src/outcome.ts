import type { Classification, ModelTier } from '@llmbus/contracts';
import { valuesAt } from './field-path';
import type { InjectedInstruction } from './injected-instructions';
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
 * 1. an output value listed in `validation.forceReview` (e.g. needsHuman: true), or, with
 *    `validation.reviewInjectedInstructions`, an instruction found in the untrusted input or
 *    passages (`injected`, from findInjectedInstructions), goes to review;
 * 2. violations retry with the stricter instruction while attempts remain, then follow `onExhaustion`;
 * 3. with `validation.confidence`: at or above `accept` accept; from `retry` retry (then
 *    `onExhaustion`); below `retry` review at once, since a stricter prompt rarely rescues an
 *    answer with no evidence behind it, unless the workflow's `model.cascade` has a higher tier
 *    for the next attempt: then the retry goes there (a stronger model may have the evidence).
 *    Without thresholds an output with no violations is accepted.
 * `routedTier` is the tier the request was routed to (where its cascade starts).
 */
export function decideOutcome(
  workflow: WorkflowDefinition,
  attempt: number,
  result: OutputValidation,
  classification?: Classification,
  routedTier?: ModelTier,
  injected: readonly InjectedInstruction[] = [],
): ValidationOutcome {
  const { maxAttempts, stricterInstruction, onExhaustion, confidence } = workflow.validation;
  const score = result.assessment.confidence;
  const forced = [
    ...forcedReview(workflow, result, classification),
    ...(workflow.validation.reviewInjectedInstructions === true
      ? injected.map(
          (i) => `${i.source} holds text that tries to instruct the model or its reviewer: "${i.excerpt}"`,
        )
      : []),
  ];
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
  const nextTier = cascadeTierAfter(workflow, attempt, routedTier);
  if (nextTier !== undefined && attempt < maxAttempts) {
    return {
      kind: 'retry',
      nextAttempt: attempt + 1,
      instruction: stricterInstruction,
      problems: [
        ...problems,
        `confidence ${score} is below the retry threshold ${confidence.retry}: the cascade escalates to the ${nextTier} tier`,
      ],
    };
  }
  return {
    kind: 'review',
    reason: `confidence ${score} is below the workflow's retry threshold ${confidence.retry}: ${problems.join('; ')}`,
    problems,
  };
}

/** One line per forceReview condition the output (or the request's classification) meets. */
function forcedReview(
  workflow: WorkflowDefinition,
  result: OutputValidation,
  classification?: Classification,
): string[] {
  const output = result.output;
  return (workflow.validation.forceReview ?? []).flatMap((c) => {
    const onClassification = c.field.startsWith('classification.');
    if (!onClassification && !output) return [];
    const values = valuesAt({ output, classification }, c.field);
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

/**
 * The tier attempt `attempt` (1-based) of a cascade runs on: attempt 1 on the routed tier (the
 * cascade's first when it does not list the routed one: a match rule may have asked for large),
 * one step up per attempt, staying on the last tier. Undefined without a cascade (the routed tier
 * then holds). The generator picks its model with it and the validator decides escalation with it.
 */
export function cascadeTierOf(
  workflow: WorkflowDefinition,
  attempt: number,
  routedTier?: ModelTier,
): ModelTier | undefined {
  const cascade = workflow.model.cascade;
  if (cascade === undefined || cascade.length === 0) return undefined;
  const start = routedTier === undefined ? 0 : Math.max(0, cascade.indexOf(routedTier));
  return cascade[Math.max(0, Math.min(start + attempt, cascade.length) - 1)];
}

/**
 * The tier the next attempt of a cascade runs on, when it is higher than this attempt's; undefined
 * without a cascade or on its last tier ({@link cascadeTierOf} of both attempts).
 */
export function cascadeTierAfter(
  workflow: WorkflowDefinition,
  attempt: number,
  routedTier?: ModelTier,
): ModelTier | undefined {
  const now = cascadeTierOf(workflow, attempt, routedTier);
  const next = cascadeTierOf(workflow, attempt + 1, routedTier);
  return next !== now ? next : undefined;
}
