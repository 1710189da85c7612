import { truncateText, type Assessment, type Classification, type Passage } from '@llmbus/contracts';
import { UNKNOWN_LABEL } from './classifier-examples';
import type { ValidateFunction } from 'ajv';
import { combineSignals } from './confidence';
import { valueAt, valuesAt } from './field-path';
import { freeTextValues, stringValues, type OutputText } from './free-text-fields';
import { claimSentences, lexicalSupport, vocabularyOf } from './lexical-support';
import { quotesIn, supportedKeys } from './quote-verifier';
import { instructionNgrams, textProblems } from './text-checks';
import { compileWorkflowSchema, describeSchemaErrors } from './schema-errors';
import type { BusinessRule, JsonSchema, WorkflowDefinition } from './workflow-definition';

export interface OutputCandidate {
  /** The parsed output, when the generator could parse one. */
  readonly output?: Readonly<Record<string, unknown>>;
  /** The raw model text; parsed here when `output` is absent. */
  readonly text: string;
  /**
   * The prompt as sent (ResponseGenerated.renderedPrompt: the messages as JSON); its system
   * message is what the output must not copy. Optional: the workflow's own instructions are
   * compared either way.
   */
  readonly renderedPrompt?: string;
  /** The request input; the fields named by `verify.sources` count as quote sources. */
  readonly input?: Readonly<Record<string, unknown>>;
  /** The router's classification of the request (RequestContext.classification), for `matchesClassification`. */
  readonly classification?: Classification;
}

export interface OutputValidation {
  readonly valid: boolean;
  /** One line per problem, `path: what is wrong`; empty when valid. */
  readonly violations: readonly string[];
  /** The output object, when there was one (valid or not). */
  readonly output?: Readonly<Record<string, unknown>>;
  /** Cited passage ids that were retrieved for the request (invented ones are left out). */
  readonly citations: readonly string[];
  /** The confidence computed from the evidence, with its signals, for the outcome and the trail. */
  readonly assessment: Assessment;
  /**
   * Weaknesses that are not violations (weakly supported sentences, unsupported quotes), one line
   * each: the feedback for a low-confidence retry and the reviewer's checklist.
   */
  readonly concerns: readonly string[];
}

/** A sentence whose support is below this is listed as a concern (half its content words are not in the sources). */
export const WEAK_SUPPORT = 0.5;

/**
 * Checks a model output against its workflow: the output JSON Schema, the business rules,
 * grounding (every citation is the id of a passage retrieved for this request), the text checks
 * (no copied instructions, no empty or boilerplate text) and, with `verify.quotes`, the quoted
 * figures; and computes the evidence-based confidence (see CONFIDENCE_WEIGHTS).
 */
export class OutputValidator {
  /** Where `output` breaks the workflow's output schema (`output.reply: must be string`); empty when it conforms. */
  schemaErrors(workflow: WorkflowDefinition, output: Readonly<Record<string, unknown>>): string[] {
    const validate = this.validatorFor(workflow.output.schema);
    return validate(output) ? [] : describeSchemaErrors('output', validate.errors);
  }

  /** Validates one candidate output; never throws for a bad output, it reports violations. */
  validate(
    workflow: WorkflowDefinition,
    candidate: OutputCandidate,
    passages: readonly Passage[],
  ): OutputValidation {
    const output = candidate.output ?? parseObject(candidate.text);
    if (output === undefined) {
      return {
        valid: false,
        violations: [notAnObject(candidate.text)],
        citations: [],
        assessment: {
          confidence: 0,
          signals: [...combineSignals({ schema: 0 }).signals],
          sentences: [],
          unsupportedClaims: [],
        },
        concerns: [],
      };
    }
    const validate = this.validatorFor(workflow.output.schema);
    const schemaValid = validate(output);
    const violations = schemaValid ? [] : describeSchemaErrors('output', validate.errors);
    let checks = 0;
    let failed = 0;
    const check = (problems: readonly string[]) => {
      checks++;
      if (problems.length > 0) failed++;
      violations.push(...problems);
    };
    const scope = { output };
    for (const rule of workflow.validation.rules) {
      const problem = checkRule(rule, valueAt(scope, rule.field), candidate.classification);
      check(problem ? [`${rule.field}: ${rule.message ?? problem}`] : []);
    }
    const spec = workflow.validation.citations;
    const citations = spec ? citedIds(spec, valueAt(scope, spec.field), passages) : undefined;
    if (spec && citations) check(citations.problems);

    const skip = new Set(spec ? [spec.field] : []);
    const texts = freeTextValues(workflow.output.schema, output, skip);
    const abstention = workflow.validation.abstention;
    const abstained = abstention !== undefined && valueAt(scope, abstention.field) === true;
    const instructions = instructionNgrams(workflow, candidate.renderedPrompt);
    if (!abstained) for (const text of texts) check(textProblems(text, instructions));
    // An abstention says the passages do not answer; citing passages says they do. A model that
    // does both has not decided, and its "not found" must not be released as the answer.
    if (abstained && spec && citations)
      check(
        citations.ids.length > 0
          ? [
              `${abstention?.field}: abstains but cites ${citations.ids.length} passage(s) in ${spec.field}; an abstention cites nothing`,
            ]
          : [],
      );

    const sources = (citations ? passages.filter((p) => citations.ids.includes(p.id)) : passages).map((p) =>
      [p.title, p.sectionPath ?? '', p.text].join('\n'),
    );
    // `verify.sources` input text (an inline contract) is a source for grounding and quotes alike.
    const inputSources = (workflow.verify?.sources ?? [])
      .map((path) => valueAt({ input: candidate.input ?? {} }, path))
      .filter((v): v is string => typeof v === 'string');
    const grounding = abstained ? [] : groundingOf(texts, [...sources, ...inputSources]);
    // Bare clause numbers in `verify.references` fields are checked as if quoted ("clause 9.1").
    const references = (workflow.verify?.references ?? []).flatMap((path) =>
      valuesAt(scope, path)
        .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
        .map((v) => ({ path, text: `clause ${v.trim()}`, required: false })),
    );
    const quotes = workflow.verify?.quotes
      ? quoteClaims([...stringValues(output, skip), ...references], [...sources, ...inputSources])
      : undefined;
    const retrieves = workflow.retrieval.topK > 0 || passages.length > 0;
    const { confidence, signals } = combineSignals({
      schema: schemaValid ? 1 : 0,
      rules: checks === 0 ? undefined : (checks - failed) / checks,
      grounding:
        retrieves && !abstained && grounding.length > 0 ? mean(grounding.map((g) => g.support)) : undefined,
      retrieval: retrieves && !abstained ? retrievalStrength(passages, citations?.ids) : undefined,
      selfReport: selfReported(workflow, scope),
      quotes: quotes && (quotes.total === 0 ? 1 : 1 - quotes.unsupported.length / quotes.total),
    });
    const concerns = [
      ...grounding
        .filter((g) => g.support < WEAK_SUPPORT)
        .map(
          (g) =>
            `${g.field}: "${truncateText(g.sentence, 200)}" is weakly supported by the cited passages (support ${g.support.toFixed(2)})`,
        ),
      ...(quotes?.unsupported ?? []),
    ];
    return {
      valid: violations.length === 0,
      violations: [...new Set(violations)],
      output,
      citations: citations?.ids ?? [],
      assessment: {
        confidence,
        signals: [...signals],
        sentences: grounding.slice(0, 50).map((g) => ({ ...g, sentence: truncateText(g.sentence, 1000) })),
        unsupportedClaims: (quotes?.unsupported ?? []).slice(0, 50),
      },
      concerns: concerns.slice(0, 50),
    };
  }

  private validatorFor(schema: JsonSchema): ValidateFunction {
    return compileWorkflowSchema(schema);
  }
}

/** Cited ids that name retrieved passages, and a problem line per invented id or missing citation. */
function citedIds(
  spec: NonNullable<WorkflowDefinition['validation']['citations']>,
  cited: unknown,
  passages: readonly Passage[],
): { ids: string[]; problems: string[] } {
  const retrieved = new Set(passages.map((p) => p.id));
  const ids: string[] = [];
  const problems: string[] = [];
  (Array.isArray(cited) ? cited : []).forEach((id, i) => {
    if (typeof id === 'string' && retrieved.has(id)) {
      if (!ids.includes(id)) ids.push(id);
    } else {
      problems.push(
        `${spec.field}[${i}]: ${JSON.stringify(id)} is not the id of a passage retrieved for this request`,
      );
    }
  });
  const min = Math.min(spec.min ?? 0, retrieved.size);
  if (ids.length < min)
    problems.push(`${spec.field}: cites ${ids.length} retrieved passage(s); at least ${min} required`);
  return { ids, problems };
}

/** Per claim sentence of every free-text value, the share of its content words found in the sources. */
function groundingOf(texts: readonly OutputText[], sources: readonly string[]) {
  const vocabulary = vocabularyOf(sources);
  return texts.flatMap((t) =>
    claimSentences(t.text).map((sentence) => ({
      field: t.path,
      sentence,
      support: Math.round(lexicalSupport(sentence, vocabulary) * 1000) / 1000,
    })),
  );
}

/** Quoted figures of the output checked against the sources; one line per unsupported quote. */
function quoteClaims(texts: readonly OutputText[], sources: readonly string[]) {
  const keys = supportedKeys(sources);
  const seen = new Set<string>();
  const unsupported: string[] = [];
  for (const text of texts) {
    for (const quote of quotesIn(text.text)) {
      if (seen.has(quote.key)) continue;
      seen.add(quote.key);
      if (!keys.has(quote.key))
        unsupported.push(
          truncateText(
            `${text.path}: "${quote.text}" (${quote.kind}) does not occur in the cited passages`,
            1000,
          ),
        );
    }
  }
  return { total: seen.size, unsupported };
}

/**
 * Relative strength of what the answer cites: mean of cited score / best retrieved score (scores
 * are rank-fused, comparable only within a request). 0 with nothing retrieved or nothing cited;
 * 1 when the workflow declares no citations field (nothing to relate the scores to).
 */
function retrievalStrength(passages: readonly Passage[], cited: readonly string[] | undefined): number {
  if (passages.length === 0) return 0;
  if (cited === undefined) return 1;
  const best = Math.max(...passages.map((p) => p.score));
  const scores = passages.filter((p) => cited.includes(p.id)).map((p) => (best > 0 ? p.score / best : 1));
  return scores.length === 0 ? 0 : mean(scores);
}

function selfReported(workflow: WorkflowDefinition, scope: Record<string, unknown>): number | undefined {
  const path = workflow.validation.confidence?.selfReport;
  const value = path === undefined ? undefined : valueAt(scope, path);
  return typeof value === 'number' && value >= 0 && value <= 1 ? value : undefined;
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function checkRule(rule: BusinessRule, value: unknown, classification?: Classification): string | undefined {
  switch (rule.rule) {
    case 'required':
      return isEmpty(value) ? 'must not be empty' : undefined;
    case 'forbiddenPhrases': {
      if (typeof value !== 'string') return undefined;
      const lower = value.toLowerCase();
      const found = rule.phrases.filter((phrase) => lower.includes(phrase.toLowerCase()));
      return found.length
        ? `contains forbidden phrase(s): ${found.map((p) => `"${p}"`).join(', ')}`
        : undefined;
    }
    case 'minimum':
      if (typeof value !== 'number') return `must be a number of at least ${rule.value}`;
      return value < rule.value ? `is ${value}, below the minimum of ${rule.value}` : undefined;
    case 'matchesClassification': {
      // An unknown label has nothing to match; workflows send it to review with forceReview.
      const label = classification?.label;
      if (label === undefined || label === UNKNOWN_LABEL) return undefined;
      return value === label
        ? undefined
        : `is ${JSON.stringify(value)}, but the request was classified as "${label}" (${classification?.method}, score ${classification?.score})`;
    }
  }
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

/**
 * The violation for an answer that is not a JSON object. The generator stores a provider's refusal
 * of a structured answer as `[the model's answer was not valid output: <why>]` (cut at the token
 * limit, a value the schema forbids); that reason is passed on, since it is what a retry or a
 * reviewer needs.
 */
function notAnObject(text: string): string {
  const refused = /^\[the model's answer was not valid output: ([\s\S]*)\]$/.exec(text.trim());
  return refused
    ? `output: the answer is not a JSON object the schema accepts (${refused[1].slice(0, 500)})`
    : 'output: the answer is not a JSON object';
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
