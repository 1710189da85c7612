import type { Classification, RequestSubmitted } from '@llmbus/contracts';
import { valueAt } from './field-path';
import type { FieldCondition, LoadedWorkflow, MatchRule, Scalar } from './workflow-definition';

/** A rule together with the workflow it routes to and its place in the global order. */
export interface RankedRule {
  readonly workflow: LoadedWorkflow;
  readonly rule: MatchRule;
  readonly ruleIndex: number;
}

/**
 * Every rule of every workflow in evaluation order: priority (highest first), workflow id, newest
 * version, then order in the file. The order is total, so routing never depends on load order.
 */
export function rankRules(workflows: readonly LoadedWorkflow[]): RankedRule[] {
  const ranked = workflows.flatMap((workflow) =>
    workflow.match.map((rule, ruleIndex) => ({ workflow, rule, ruleIndex })),
  );
  return ranked.sort(
    (a, b) =>
      (b.rule.priority ?? 0) - (a.rule.priority ?? 0) ||
      a.workflow.id.localeCompare(b.workflow.id) ||
      b.workflow.version - a.workflow.version ||
      a.ruleIndex - b.ruleIndex,
  );
}

/** Whether a rule's event type condition holds for a request (true when it has none). */
export function eventTypeMatches(rule: MatchRule, request: RequestSubmitted): boolean {
  const eventType = rule.eventType;
  if (eventType?.equals !== undefined && eventType.equals !== request.eventType) return false;
  if (eventType?.in !== undefined && !eventType.in.includes(request.eventType)) return false;
  return true;
}

/** Whether a rule has a condition on the workflow's classification (`classification.*`). */
export function usesClassification(rule: MatchRule): boolean {
  return (rule.when ?? []).some((condition) => condition.field.startsWith('classification.'));
}

/**
 * Whether a rule matches a request: its event type condition and every field condition hold.
 * `classification` is the rule's workflow's classification of the request; without it a
 * condition on `classification.*` does not hold (its value is missing).
 */
export function ruleMatches(
  rule: MatchRule,
  request: RequestSubmitted,
  classification?: Classification,
): boolean {
  if (!eventTypeMatches(rule, request)) return false;
  const scope = { input: request.input, requester: request.requester, classification };
  return (rule.when ?? []).every((condition) => conditionHolds(condition, valueAt(scope, condition.field)));
}

function conditionHolds(condition: FieldCondition, value: unknown): boolean {
  if (condition.exists !== undefined) return (value !== undefined && value !== null) === condition.exists;
  if (condition.equals !== undefined) return isScalar(value) && value === condition.equals;
  if (condition.in !== undefined) {
    // A list field matches when any of its items is in the set (e.g. requester.groups in [admins]).
    const values = Array.isArray(value) ? value : [value];
    return values.some((v) => isScalar(v) && condition.in!.includes(v));
  }
  if (condition.matches !== undefined)
    return typeof value === 'string' && new RegExp(condition.matches).test(value);
  return false;
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}
