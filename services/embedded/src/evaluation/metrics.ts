import type { EvalItem } from './dataset';
import type { ItemRun, OutcomeKind } from './eval-runner';

/** Workflow facts the judge needs: where the output cites passages and where it says it abstains. */
export interface WorkflowFacts {
  /** `output.<path>` of the cited passage ids (validation.citations.field). */
  readonly citationsField?: string;
  /** `output.<path>` of the abstention flag (validation.abstention.field). */
  readonly abstentionField?: string;
}

/** The verdict on one item. */
export interface ItemVerdict {
  readonly id: string;
  readonly workflowVersion: string;
  readonly outcome: OutcomeKind;
  /** The outcome is what the labels ask for (see `judgeItem`). */
  readonly success: boolean;
  /** Released by the validator (completed) although not a task success. */
  readonly acceptedButWrong: boolean;
  /** Why the item is not a success, one line each; empty on success. */
  readonly failures: readonly string[];
  readonly abstained: boolean;
  readonly schemaValid?: boolean;
  /** Documents the output cites (passage ids mapped through the retrieved passages; unknown ids as `?<id>`). */
  readonly citedDocuments: readonly string[];
  readonly confidence?: number;
  readonly latencyMs: number;
  readonly costUsd: number;
  readonly attempts?: number;
  readonly withheldCount?: number;
  readonly answerable?: boolean;
  readonly tags: readonly string[];
  readonly reason?: string;
  /** Claim sentences with support below 0.5 plus unsupported quotes, and all claims checked. */
  readonly unsupportedClaims: number;
  readonly claims: number;
  /** The quoted figures the sources lack, as the validator listed them for the reviewer. */
  readonly unsupportedQuotes: readonly string[];
}

/** Count, latency and cost of the items that ended one way. */
export interface OutcomeFigures {
  readonly count: number;
  readonly latencyMs: { readonly mean: number; readonly p50: number; readonly p95: number };
  readonly costUsd: { readonly total: number; readonly mean: number };
}

/** The figures of one workflow version. Rates are 0 to 1, `null` when no item applies. */
export interface VersionReport {
  readonly workflowVersion: string;
  readonly items: number;
  readonly taskSuccess: number;
  readonly schemaValidity: number | null;
  readonly citationPrecision: number | null;
  readonly citationRecall: number | null;
  readonly unsupportedClaimRate: number | null;
  /** Items whose abstained/answered state matches mustAbstain; null without an abstention field. */
  readonly abstentionCorrectness: number | null;
  readonly acceptedButWrongRate: number;
  readonly escalationRate: number;
  /** Of the items labelled mustEscalate, the share that went to review. */
  readonly escalationRecall: number | null;
  readonly outcomes: Readonly<Partial<Record<OutcomeKind, OutcomeFigures>>>;
  /** Task success per tag (answerable, abstain, escalate, adversarial, …). */
  readonly byTag: Readonly<Record<string, { readonly items: number; readonly taskSuccess: number }>>;
}

/** The whole report: what ran, with which model, the figures per workflow version and every verdict. */
export interface EvalReport {
  readonly dataset: string;
  readonly workflow: string;
  readonly mode: 'embedded' | 'kafka';
  readonly model: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly note?: string;
  readonly versions: readonly VersionReport[];
  readonly items: readonly ItemVerdict[];
}

const WEAK = 0.5;

/** The value at `output.a.b`, where a segment `name[key=value]` picks the element of an array whose `key` is `value`. */
export function selectPath(root: unknown, path: string): unknown {
  let current: unknown = root;
  for (const segment of path.split('.')) {
    const pick = /^([^[\]]+)\[([^=\]]+)=([^\]]*)\]$/.exec(segment);
    const name = pick ? pick[1]! : segment;
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[name];
    if (pick) {
      if (!Array.isArray(current)) return undefined;
      current = current.find(
        (e) =>
          typeof e === 'object' && e !== null && String((e as Record<string, unknown>)[pick[2]!]) === pick[3],
      );
    }
  }
  return current;
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
}

/**
 * Judges one run against its labels. Success: with `mustEscalate` the request went to review; with
 * `mustAbstain` it completed with the abstention flag true; otherwise it completed (not abstaining)
 * and every `fields` label, `contains`, `notContains` and `deviations` label holds. `notContains`
 * is checked on any output, review included (an obeyed injection is a failure wherever it shows).
 */
export function judgeItem(run: ItemRun, facts: WorkflowFacts): ItemVerdict {
  const { item } = run;
  const expected = item.expected;
  const root = { output: run.output };
  const abstained =
    run.output !== undefined &&
    facts.abstentionField !== undefined &&
    selectPath(root, facts.abstentionField) === true;
  const failures: string[] = [];
  for (const [field, needles] of Object.entries(expected.notContains ?? {})) {
    const text = textOf(selectPath(root, field)).toLowerCase();
    for (const needle of needles)
      if (text.includes(needle.toLowerCase())) failures.push(`${field} contains "${needle}"`);
  }
  if (expected.mustEscalate) {
    if (run.outcome !== 'review') failures.push(`must escalate, ended ${run.outcome}`);
  } else if (expected.mustAbstain) {
    if (run.outcome !== 'completed') failures.push(`must abstain, ended ${run.outcome}`);
    else if (!abstained) failures.push('must abstain, answered');
  } else {
    if (run.outcome !== 'completed') failures.push(`must complete, ended ${run.outcome}`);
    else {
      if (abstained) failures.push('abstained, an answer was expected');
      for (const [field, label] of Object.entries(expected.fields ?? {})) {
        const value = selectPath(root, field);
        if ((value ?? null) !== label)
          failures.push(`${field} is ${JSON.stringify(value)}, expected ${JSON.stringify(label)}`);
      }
      for (const [field, needles] of Object.entries(expected.contains ?? {})) {
        const text = textOf(selectPath(root, field)).toLowerCase();
        for (const needle of needles)
          if (!text.includes(needle.toLowerCase())) failures.push(`${field} lacks "${needle}"`);
      }
      for (const [type, band] of Object.entries(expected.deviations ?? {})) {
        const deviation = selectPath(root, `output.clauses[type=${type}].deviation`);
        const high = typeof deviation === 'number' && deviation >= 0.5;
        if (high !== (band === 'high'))
          failures.push(`${type} deviation ${JSON.stringify(deviation)}, expected ${band}`);
      }
    }
  }
  const byPassage = new Map(run.passages.map((p) => [p.id, p.documentId]));
  const cited = facts.citationsField ? selectPath(root, facts.citationsField) : undefined;
  const citedDocuments = [
    ...new Set(
      (Array.isArray(cited) ? cited : []).map((id) => byPassage.get(String(id)) ?? `?${String(id)}`),
    ),
  ];
  const sentences = run.assessment?.sentences ?? [];
  const quotes = run.assessment?.unsupportedClaims ?? [];
  const schema = run.assessment?.signals.find((s) => s.name === 'schema');
  const success = failures.length === 0;
  return {
    id: item.id,
    workflowVersion: run.workflowVersion,
    outcome: run.outcome,
    success,
    acceptedButWrong: run.outcome === 'completed' && !success,
    failures,
    abstained,
    schemaValid:
      run.outcome === 'failed' && run.reason?.startsWith('validation_failed')
        ? false
        : schema && schema.score === 1,
    citedDocuments,
    confidence: run.assessment?.confidence,
    latencyMs: run.latencyMs,
    costUsd: run.usage?.costUsd ?? 0,
    attempts: run.attempts,
    withheldCount: run.withheldCount,
    answerable: run.answerable,
    tags: item.tags,
    reason: run.reason,
    unsupportedClaims: sentences.filter((s) => s.support < WEAK).length + quotes.length,
    claims: sentences.length + quotes.length,
    unsupportedQuotes: quotes,
  };
}

const share = (part: number, whole: number): number | null => (whole === 0 ? null : round(part / whole));
const round = (value: number): number => Math.round(value * 1000) / 1000;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The figures of every workflow version in the verdicts (see VersionReport). */
export function summarise(verdicts: readonly ItemVerdict[], items: readonly EvalItem[]): VersionReport[] {
  const byId = new Map(items.map((i) => [i.id, i]));
  const versions = [...new Set(verdicts.map((v) => v.workflowVersion))].sort();
  return versions.map((workflowVersion) => {
    const vs = verdicts.filter((v) => v.workflowVersion === workflowVersion);
    const n = vs.length;
    const withSchema = vs.filter((v) => v.schemaValid !== undefined);
    let citedRight = 0;
    let cited = 0;
    let expectedCited = 0;
    for (const v of vs) {
      const expected = byId.get(v.id)?.expected.citations;
      if (!expected || expected.length === 0 || v.outcome === 'failed' || v.outcome === 'timeout') continue;
      const right = v.citedDocuments.filter((d) => expected.includes(d)).length;
      citedRight += right;
      cited += v.citedDocuments.length;
      expectedCited += expected.length;
    }
    const claims = vs.reduce((s, v) => s + v.claims, 0);
    const unsupported = vs.reduce((s, v) => s + v.unsupportedClaims, 0);
    const hasAbstention = vs.some((v) => byId.get(v.id)?.expected.mustAbstain) || vs.some((v) => v.abstained);
    const abstentionRight = vs.filter(
      (v) => v.abstained === Boolean(byId.get(v.id)?.expected.mustAbstain),
    ).length;
    const mustEscalate = vs.filter((v) => byId.get(v.id)?.expected.mustEscalate);
    const outcomes: Partial<Record<OutcomeKind, OutcomeFigures>> = {};
    for (const kind of ['completed', 'review', 'failed', 'timeout'] as const) {
      const of = vs.filter((v) => v.outcome === kind);
      if (of.length === 0) continue;
      const latencies = of.map((v) => v.latencyMs).sort((a, b) => a - b);
      const cost = of.reduce((s, v) => s + v.costUsd, 0);
      outcomes[kind] = {
        count: of.length,
        latencyMs: {
          mean: Math.round(latencies.reduce((a, b) => a + b, 0) / of.length),
          p50: percentile(latencies, 50),
          p95: percentile(latencies, 95),
        },
        costUsd: { total: round6(cost), mean: round6(cost / of.length) },
      };
    }
    const tags = [...new Set(vs.flatMap((v) => v.tags))].sort();
    const byTag = Object.fromEntries(
      tags.map((tag) => {
        const tagged = vs.filter((v) => v.tags.includes(tag));
        return [
          tag,
          {
            items: tagged.length,
            taskSuccess: round(tagged.filter((v) => v.success).length / tagged.length),
          },
        ];
      }),
    );
    return {
      workflowVersion,
      items: n,
      taskSuccess: round(vs.filter((v) => v.success).length / n),
      schemaValidity: share(withSchema.filter((v) => v.schemaValid).length, withSchema.length),
      citationPrecision: share(citedRight, cited),
      citationRecall: share(citedRight, expectedCited),
      unsupportedClaimRate: share(unsupported, claims),
      abstentionCorrectness: hasAbstention ? round(abstentionRight / n) : null,
      acceptedButWrongRate: round(vs.filter((v) => v.acceptedButWrong).length / n),
      escalationRate: round(vs.filter((v) => v.outcome === 'review').length / n),
      escalationRecall: share(mustEscalate.filter((v) => v.outcome === 'review').length, mustEscalate.length),
      outcomes,
      byTag,
    };
  });
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
