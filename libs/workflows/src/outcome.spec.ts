import { cascadeTierAfter, cascadeTierOf } from './outcome';
import type { WorkflowDefinition } from './workflow-definition';

/** Only the model part matters to the cascade. */
function workflow(cascade?: WorkflowDefinition['model']['cascade']): WorkflowDefinition {
  return {
    model: { tier: 'small', ...(cascade === undefined ? {} : { cascade }) },
  } as unknown as WorkflowDefinition;
}

describe('cascade tiers', () => {
  it('starts at the routed tier and climbs one step per attempt, staying on the last', () => {
    const w = workflow(['small', 'large']);
    expect([1, 2, 3].map((a) => cascadeTierOf(w, a, 'small'))).toEqual(['small', 'large', 'large']);
    expect([1, 2].map((a) => cascadeTierAfter(w, a, 'small'))).toEqual(['large', undefined]);
  });

  it('starts on large when a match rule routed the request there, so nothing is left to escalate to', () => {
    const w = workflow(['small', 'large']);
    expect(cascadeTierOf(w, 1, 'large')).toBe('large');
    expect(cascadeTierAfter(w, 1, 'large')).toBeUndefined();
  });

  it('starts at the first tier when the routed one is not in the cascade, and is silent without a cascade', () => {
    expect(cascadeTierOf(workflow(['small', 'large']), 1)).toBe('small');
    expect(cascadeTierOf(workflow(), 1, 'large')).toBeUndefined();
    expect(cascadeTierAfter(workflow(), 1, 'small')).toBeUndefined();
  });
});
