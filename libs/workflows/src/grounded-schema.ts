import { LRUCache } from 'lru-cache';
import type { LoadedWorkflow } from './workflow-definition';

type Schema = Record<string, unknown>;

/**
 * The workflow's output schema narrowed to this request: the citations field may only hold ids of
 * passages the prompt actually showed. With constrained decoding (local models) the model cannot
 * invent a citation at all; other providers get the same enum as guidance, and the validator's
 * grounding check still applies. The schema returned is shared with other requests showing the same
 * passages: read it, never change it.
 */
export function groundedOutputSchema(workflow: LoadedWorkflow, shownPassageIds: readonly string[]): Schema {
  let kept = GROUNDED.get(workflow);
  if (kept === undefined) {
    kept = new LRUCache({ max: MAX_ID_SETS });
    GROUNDED.set(workflow, kept);
  }
  const key = JSON.stringify(shownPassageIds);
  let schema = kept.get(key);
  if (schema === undefined) {
    schema = narrowed(workflow, shownPassageIds);
    kept.set(key, schema);
  }
  return schema;
}

/**
 * Narrowed schemas kept per workflow and list of shown ids (256 lists a workflow, least recently
 * used out): questions alike show the same passages, and copying the schema (structuredClone) was ~4 %
 * of the generator's busy time; the same object also lets the structured-output validator find its
 * compiled validator by identity. The kept schemas are shared: read them, never change them.
 */
const GROUNDED = new WeakMap<LoadedWorkflow, LRUCache<string, Schema>>();
const MAX_ID_SETS = 256;

function narrowed(workflow: LoadedWorkflow, shownPassageIds: readonly string[]): Schema {
  const schema = structuredClone(workflow.output.schema) as Schema;
  const field = workflow.validation.citations?.field;
  if (!field?.startsWith('output.')) return schema;
  let node: Schema | undefined = schema;
  for (const key of field.slice('output.'.length).split('.')) {
    const properties = node?.['properties'] as Record<string, Schema> | undefined;
    node = properties?.[key];
  }
  if (!node || node['type'] !== 'array') return schema;
  if (shownPassageIds.length === 0) {
    node['maxItems'] = 0;
    return schema;
  }
  const items = { ...((node['items'] as Schema | undefined) ?? {}) };
  delete items['pattern'];
  delete items['maxLength'];
  items['type'] = 'string';
  items['enum'] = [...shownPassageIds];
  node['items'] = items;
  node['uniqueItems'] = true;
  return schema;
}
