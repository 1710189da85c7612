import {
  ID_MESSAGE,
  ID_PATTERN,
  truncateText,
  type Classification,
  type DocumentReference,
  type ModelTier,
  type RequestRouted,
  type RequestSubmitted,
} from '@llmbus/contracts';
import type { ValidateFunction } from 'ajv';
import { WorkflowError, WorkflowLoadError } from './errors';
import { eventTypeMatches, rankRules, RankedRule, ruleMatches, usesClassification } from './match-rules';
import { compileWorkflowSchema, describeSchemaErrors } from './schema-errors';
import { fillTemplate } from './template';
import type { LoadedWorkflow } from './workflow-definition';
import { DEFAULT_WORKFLOWS_DIR, loadWorkflowDirectory } from './workflow-loader';

/** What the router decided for a request: the workflow, how it was chosen, and the event payload. */
export interface RoutingDecision {
  readonly workflow: LoadedWorkflow;
  readonly modelTier: ModelTier;
  /** `explicit` when the request named the workflow, else the index of the matching rule in its file. */
  readonly matchedBy: 'explicit' | { readonly ruleIndex: number };
  readonly routed: RequestRouted;
}

const MAX_QUERY_CHARS = 8000;

/** The loaded workflows: lookup by id and version, and routing of submitted requests. */
export class WorkflowRegistry {
  private readonly byKey = new Map<string, LoadedWorkflow>();
  private readonly latest = new Map<string, LoadedWorkflow>();
  private readonly rules: readonly RankedRule[];
  private readonly inputValidators = new Map<string, ValidateFunction>();

  constructor(workflows: readonly LoadedWorkflow[]) {
    for (const workflow of workflows) {
      const key = `${workflow.id}@${workflow.version}`;
      const clash = this.byKey.get(key);
      if (clash)
        throw new WorkflowLoadError(workflow.source, [
          `id ${workflow.id} version ${workflow.version} is also defined in ${clash.source}`,
        ]);
      this.byKey.set(key, workflow);
      const newest = this.latest.get(workflow.id);
      if (!newest || newest.version < workflow.version) this.latest.set(workflow.id, workflow);
      this.inputValidators.set(key, compileWorkflowSchema(workflow.input.schema));
    }
    this.rules = rankRules(workflows);
  }

  /** Loads a folder of workflow files (default: the repository's `workflows/`). */
  static fromDirectory(dir: string = DEFAULT_WORKFLOWS_DIR): WorkflowRegistry {
    return new WorkflowRegistry(loadWorkflowDirectory(dir));
  }

  /** Every loaded workflow version. */
  list(): readonly LoadedWorkflow[] {
    return [...this.byKey.values()];
  }

  /** The workflow with this id (newest version when `version` is omitted), or undefined. */
  find(id: string, version?: number): LoadedWorkflow | undefined {
    return version === undefined ? this.latest.get(id) : this.byKey.get(`${id}@${version}`);
  }

  /** The workflow with this id and version; throws WorkflowError `unknown_workflow` listing the known ones. */
  get(id: string, version?: number): LoadedWorkflow {
    const workflow = this.find(id, version);
    if (!workflow) {
      const wanted = version === undefined ? `"${id}"` : `"${id}" version ${version}`;
      throw new WorkflowError(
        'unknown_workflow',
        `no workflow ${wanted}; known workflows: ${this.knownList()}`,
        [`workflow: ${id}${version === undefined ? '' : `@${version}`}`],
      );
    }
    return workflow;
  }

  /**
   * Chooses the workflow for a request (its explicit `workflow`, else the first matching rule),
   * validates the input against the workflow's input schema and builds the RequestRouted payload.
   * Runs no classifier: a rule on `classification.*` does not match and the context carries no
   * classification (the HTTP ingress uses this to refuse bad requests at once; the router's
   * consumer uses `routeClassified`). Throws WorkflowError `unknown_workflow` or `invalid_input`.
   */
  route(request: RequestSubmitted): RoutingDecision {
    if (request.workflow !== undefined) return this.decide(request, this.get(request.workflow));
    const hit = this.rules.find((ranked) => ruleMatches(ranked.rule, request));
    return this.decide(request, this.workflowOf(hit, request), hit);
  }

  /**
   * As `route`, with the classifier steps: a rule on `classification.*` is tried with its
   * workflow's classification of the request (computed once per workflow and request), and the
   * chosen workflow's classification, when it declares `classify:`, goes into the context.
   * Rejects with WorkflowError, or with what `classify` rejects with (model errors).
   */
  async routeClassified(
    request: RequestSubmitted,
    classify: (workflow: LoadedWorkflow) => Promise<Classification>,
  ): Promise<RoutingDecision> {
    const known = new Map<LoadedWorkflow, Classification>();
    const classificationOf = async (workflow: LoadedWorkflow) => {
      let classification = known.get(workflow);
      if (!classification) {
        classification = await classify(workflow);
        known.set(workflow, classification);
      }
      return classification;
    };
    let hit: RankedRule | undefined;
    let workflow: LoadedWorkflow;
    if (request.workflow !== undefined) {
      workflow = this.get(request.workflow);
    } else {
      for (const ranked of this.rules) {
        if (!eventTypeMatches(ranked.rule, request)) continue;
        const classification =
          usesClassification(ranked.rule) && ranked.workflow.classify
            ? await classificationOf(ranked.workflow)
            : undefined;
        if (ruleMatches(ranked.rule, request, classification)) {
          hit = ranked;
          break;
        }
      }
      workflow = this.workflowOf(hit, request);
    }
    // Input is checked before the chosen workflow's classifier spends a model call on it.
    this.validateInput(workflow, request.input);
    const classification = workflow.classify ? await classificationOf(workflow) : undefined;
    return this.decide(request, workflow, hit, classification);
  }

  private workflowOf(hit: RankedRule | undefined, request: RequestSubmitted): LoadedWorkflow {
    if (hit) return hit.workflow;
    throw new WorkflowError(
      'unknown_workflow',
      `no workflow rule matches event type "${request.eventType}"; name one in "workflow" or use a routed event type. Known workflows: ${this.knownList()}`,
      [`eventType: ${request.eventType}`],
    );
  }

  private decide(
    request: RequestSubmitted,
    workflow: LoadedWorkflow,
    hit?: RankedRule,
    classification?: Classification,
  ): RoutingDecision {
    const modelTier = hit?.rule.modelTier ?? workflow.model.tier;
    const matchedBy: RoutingDecision['matchedBy'] = hit ? { ruleIndex: hit.ruleIndex } : 'explicit';
    this.validateInput(workflow, request.input);
    const query = fillTemplate(workflow.retrieval.query, { input: request.input })
      .replace(/\s+/g, ' ')
      .trim();
    const document = documentReferenceOf(workflow, request.input);
    return {
      workflow,
      modelTier,
      matchedBy,
      routed: {
        requestId: request.requestId,
        context: {
          workflow: { id: workflow.id, version: workflow.version },
          requester: request.requester,
          modelTier,
          budget: { ...workflow.model.budget },
          replyTo: request.replyTo,
          ...(classification ? { classification } : {}),
        },
        input: request.input,
        retrieval: {
          collections: [...workflow.retrieval.collections],
          topK: workflow.retrieval.topK,
          query: truncateText(query, MAX_QUERY_CHARS),
          ...(workflow.retrieval.priorities
            ? {
                collectionWeights: Object.entries(workflow.retrieval.priorities).map(
                  ([collection, weight]) => ({ collection, weight }),
                ),
              }
            : {}),
          ...(document ? { document } : {}),
        },
      },
    };
  }

  /** Checks input against the workflow's input schema; throws `invalid_input` naming each bad field. */
  validateInput(workflow: LoadedWorkflow, input: Readonly<Record<string, unknown>>): void {
    const validate = this.inputValidators.get(`${workflow.id}@${workflow.version}`);
    if (!validate || validate(input)) return;
    const details = describeSchemaErrors('input', validate.errors);
    throw new WorkflowError(
      'invalid_input',
      `input does not match workflow ${workflow.id} v${workflow.version}: ${details.join('; ')}`,
      details,
    );
  }

  private knownList(): string {
    const rulesOf = (w: LoadedWorkflow) =>
      [
        ...new Set(
          w.match.flatMap((r) => r.eventType?.in ?? (r.eventType?.equals ? [r.eventType.equals] : [])),
        ),
      ].join(', ');
    return (
      [...this.latest.values()]
        .map((w) => `${w.id} (v${w.version}${rulesOf(w) ? `; event types ${rulesOf(w)}` : ''})`)
        .join(', ') || '(none loaded)'
    );
  }
}

/** Default of `retrieval.document.maxChars`: the inline contract's own limit. */
export const DEFAULT_DOCUMENT_MAX_CHARS = 40_000;

/**
 * The document the input gives by reference (`retrieval.document.field`), for the retriever to
 * read into `retrieval.document.into`; undefined when the workflow takes none or the input gives
 * none. Throws `invalid_input` when the reference is not a document id, or when the input gives the
 * text inline as well (one or the other, so it is clear which one the output is about).
 */
export function documentReferenceOf(
  workflow: LoadedWorkflow,
  input: Readonly<Record<string, unknown>>,
): DocumentReference | undefined {
  const spec = workflow.retrieval.document;
  if (!spec) return undefined;
  const field = spec.field.slice('input.'.length);
  const into = spec.into.slice('input.'.length);
  const documentId = input[field];
  if (documentId === undefined) return undefined;
  if (typeof documentId !== 'string' || !ID_PATTERN.test(documentId)) {
    throw new WorkflowError(
      'invalid_input',
      `${spec.field} must be the id of an ingested document (${ID_MESSAGE})`,
      [`${spec.field}: ${ID_MESSAGE}`],
    );
  }
  if (input[into] !== undefined) {
    throw new WorkflowError(
      'invalid_input',
      `give the document either inline in ${spec.into} or by reference in ${spec.field}, not both`,
      [`${spec.into}: must be absent when ${spec.field} is given`],
    );
  }
  return {
    documentId,
    into,
    ...(spec.collections ? { collections: [...spec.collections] } : {}),
    maxChars: spec.maxChars ?? DEFAULT_DOCUMENT_MAX_CHARS,
  };
}
