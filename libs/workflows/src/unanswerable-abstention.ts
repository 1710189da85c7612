import type { RetrievalSpec } from './workflow-definition';

/**
 * The passages a workflow's model answers from: none when the workflow abstains on unanswerable
 * questions (`retrieval.abstainWhenUnanswerable`) and the retriever reported `answerable: false`;
 * otherwise all of them. `answerable` undefined (a retriever that predates the signal) keeps them.
 */
export function passagesToAnswerFrom<P>(
  retrieval: Pick<RetrievalSpec, 'abstainWhenUnanswerable'>,
  passages: readonly P[],
  answerable: boolean | undefined,
): P[] {
  return retrieval.abstainWhenUnanswerable === true && answerable === false ? [] : [...passages];
}
