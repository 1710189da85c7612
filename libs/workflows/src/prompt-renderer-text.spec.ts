import { findUnstorableText } from '@llmbus/contracts';
import { PromptRenderer } from './prompt-renderer';
import { WorkflowRegistry } from './workflow-registry';

// The rendered prompt goes to the model and, in ResponseGenerated, to the audit trail.
const workflow = WorkflowRegistry.fromDirectory().get('support-ticket', 1);
const EMOJI = '\u{1F600}';

describe('PromptRenderer cutting text with characters outside the BMP', () => {
  it('cuts the truncate field on a code-point boundary, whatever the window', () => {
    const input = { subject: 'Printer on fire', body: EMOJI.repeat(4100), priority: 'high' };
    // Every code-unit count the token counter can land on (one token per four units) is reached.
    const bad: number[] = [];
    for (let contextWindow = 1000; contextWindow < 1016; contextWindow++) {
      const rendered = new PromptRenderer().render(workflow, input, [], { contextWindow });
      if (rendered.truncatedField !== 'input.body') throw new Error(`window ${contextWindow} did not cut`);
      if (findUnstorableText([rendered.user, rendered.system]).length > 0) bad.push(contextWindow);
    }
    expect(bad).toEqual([]);
  });
});
