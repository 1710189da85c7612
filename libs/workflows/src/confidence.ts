import type { ConfidenceSignal } from '@llmbus/contracts';

/** A signal's score (0 to 1), or undefined when it does not apply to the workflow or output. */
export type SignalScores = { readonly [S in ConfidenceSignal]?: number };

/**
 * Weights of the additive signals. Rationale, strongest evidence first:
 * - grounding 0.40: the only signal that looks at what the answer says against what the sources
 *   say (share of each claim sentence's content words found in the passages it cites); a fluent
 *   answer that the sources do not back is the failure this product exists to catch.
 * - rules 0.25: share of the workflow's checks that pass (business rules, citations, and the text
 *   checks: no copied instructions, no empty or boilerplate text). Any failure is also a violation,
 *   so this term mostly matters for the audit trail and for partial credit in reports.
 * - retrieval 0.20: how strong the cited passages were among those retrieved. Retrieval scores are
 *   rank-fused (comparable only within one request), so this is relative: mean of cited score /
 *   best score, 0 when the answer cites nothing although passages were retrieved. Strong passages do
 *   not prove the answer uses them, hence less than grounding.
 * - selfReport 0.15: the model's own confidence. Weakest: small models report numbers unrelated to
 *   correctness (the sample ticket's instruction-echo came with 0.3, and wrong answers often claim
 *   0.9), but a model that says it is unsure is still worth hearing.
 * Two signals gate instead of adding: an output that fails its schema has confidence 0 (nothing in
 * it can be relied on), and the verifier's quote check multiplies the score by the share of quoted
 * clause numbers, amounts and dates found in the sources (an invented figure taints the whole answer).
 */
export const CONFIDENCE_WEIGHTS = { grounding: 0.4, rules: 0.25, retrieval: 0.2, selfReport: 0.15 } as const;

export interface WeightedSignal {
  readonly name: ConfidenceSignal;
  readonly score: number;
  /** Normalised weight in the confidence (weights of the signals that applied sum to 1); 0 for gates. */
  readonly weight: number;
}

export interface ConfidenceScore {
  /** 0 to 1, rounded to 3 decimals. */
  readonly confidence: number;
  readonly signals: readonly WeightedSignal[];
}

/**
 * Combines signal scores into a confidence: the weighted mean of the additive signals that apply
 * (weights renormalised over them), times the quote gate, times 0 when the schema failed.
 * With no additive signal at all the confidence is the gates alone.
 */
export function combineSignals(scores: SignalScores): ConfidenceScore {
  const additive = (Object.keys(CONFIDENCE_WEIGHTS) as (keyof typeof CONFIDENCE_WEIGHTS)[]).filter(
    (name) => scores[name] !== undefined,
  );
  const total = additive.reduce((sum, name) => sum + CONFIDENCE_WEIGHTS[name], 0);
  const mean =
    total === 0
      ? 1
      : additive.reduce((sum, name) => sum + CONFIDENCE_WEIGHTS[name] * clamp(scores[name] ?? 0), 0) / total;
  const schema = clamp(scores.schema ?? 1);
  const quotes = clamp(scores.quotes ?? 1);
  const signals: WeightedSignal[] = [
    { name: 'schema', score: schema, weight: 0 },
    ...additive.map((name) => ({
      name,
      score: round(clamp(scores[name] ?? 0)),
      weight: round(CONFIDENCE_WEIGHTS[name] / total),
    })),
    ...(scores.quotes === undefined ? [] : [{ name: 'quotes' as const, score: round(quotes), weight: 0 }]),
  ];
  return { confidence: round(mean * quotes * (schema === 1 ? 1 : 0)), signals };
}

function clamp(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
