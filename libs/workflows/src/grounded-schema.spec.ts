import { join } from 'node:path';
import { groundedOutputSchema } from './grounded-schema';
import { WorkflowRegistry } from './workflow-registry';

const registry = WorkflowRegistry.fromDirectory(join(__dirname, '..', '..', '..', 'workflows'));
const workflow = registry.get('support-ticket', 1);

function citations(schema: Record<string, unknown>): Record<string, unknown> {
  return (schema['properties'] as Record<string, Record<string, unknown>>)['citations'];
}

describe('groundedOutputSchema', () => {
  it('limits citations to the ids of the passages shown to the model', () => {
    const schema = groundedOutputSchema(workflow, ['p-1', 'p-2']);
    expect(citations(schema)['items']).toMatchObject({ type: 'string', enum: ['p-1', 'p-2'] });
    expect(citations(schema)['uniqueItems']).toBe(true);
  });

  it('allows no citation at all when no passage was shown', () => {
    expect(citations(groundedOutputSchema(workflow, []))['maxItems']).toBe(0);
  });

  it('leaves the workflow definition itself unchanged', () => {
    groundedOutputSchema(workflow, ['p-1']);
    expect(JSON.stringify(workflow.output.schema)).not.toContain('p-1');
  });
});
