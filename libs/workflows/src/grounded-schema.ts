import type { LoadedWorkflow } from './workflow-definition';

type Schema = Record<string, unknown>;

/**
 * The workflow's output schema narrowed to this request: the citations field may only hold ids of
 * passages the prompt actually showed. With constrained decoding (local models) the model cannot
 * invent a citation at all; other providers get the same enum as guidance, and the validator's
 * grounding check still applies.
 */
export function groundedOutputSchema(workflow: LoadedWorkflow, shownPassageIds: readonly string[]): Schema {
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
