import { truncateText, type ModelTier, type RequestRouted, type RequestSubmitted } from '@llmbus/contracts';
import type { ValidateFunction } from 'ajv';
import { WorkflowError, WorkflowLoadError } from './errors';
import { rankRules, RankedRule, ruleMatches } from './match-rules';
import { createSchemaAjv, describeSchemaErrors } from './schema-errors';
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
    const ajv = createSchemaAjv();
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
      this.inputValidators.set(key, ajv.compile(workflow.input.schema));
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
   * Throws WorkflowError `unknown_workflow` or `invalid_input`.
   */
  route(request: RequestSubmitted): RoutingDecision {
    let workflow: LoadedWorkflow;
    let modelTier: ModelTier;
    let matchedBy: RoutingDecision['matchedBy'];
    if (request.workflow !== undefined) {
      workflow = this.get(request.workflow);
      modelTier = workflow.model.tier;
      matchedBy = 'explicit';
    } else {
      const hit = this.rules.find((ranked) => ruleMatches(ranked.rule, request));
      if (!hit) {
        throw new WorkflowError(
          'unknown_workflow',
          `no workflow rule matches event type "${request.eventType}"; name one in "workflow" or use a routed event type. Known workflows: ${this.knownList()}`,
          [`eventType: ${request.eventType}`],
        );
      }
      workflow = hit.workflow;
      modelTier = hit.rule.modelTier ?? workflow.model.tier;
      matchedBy = { ruleIndex: hit.ruleIndex };
    }
    this.validateInput(workflow, request.input);
    const query = fillTemplate(workflow.retrieval.query, { input: request.input })
      .replace(/\s+/g, ' ')
      .trim();
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
