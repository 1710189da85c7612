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

  it('gives the same schema object for the same shown ids and its own for other ids, in any order of calls', () => {
    const first = groundedOutputSchema(workflow, ['p-1', 'p-2']);
    const other = groundedOutputSchema(workflow, ['p-2', 'p-3']);
    expect(groundedOutputSchema(workflow, ['p-1', 'p-2'])).toBe(first);
    expect(citations(other)['items']).toMatchObject({ enum: ['p-2', 'p-3'] });
    expect(citations(first)['items']).toMatchObject({ enum: ['p-1', 'p-2'] });
    expect(citations(groundedOutputSchema(workflow, ['p-1,p-2']))['items']).toMatchObject({
      enum: ['p-1,p-2'],
    });
  });
});
