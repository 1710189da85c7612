import type { RelevanceModel } from './relevance';

/**
 * Printed by `npm run eval:calibrate -- --lambda 1 --class-weights balanced` (L2-regularised
 * logistic regression, both classes weighted equally so the tuning set's 1-in-7 share of
 * unanswerable questions is not built into the intercept) on the tuning questions of
 * `eval/retrieval` only, with local MiniLM-L6 embeddings and the default retriever; the held-out
 * and fresh questions were not used. Tuning accuracy 0.898, leave-one-out 0.889 (penalties 0.3
 * and 3: 0.880). Refit when the embedding model changes: cosine scales differ between models.
 */
export const DEFAULT_RELEVANCE_MODEL: RelevanceModel = {
  intercept: 2.4928,
  features: {
    bestCosine: { weight: 2.0307, mean: 0.5851, scale: 0.1253 },
    cosineMargin: { weight: 0.4778, mean: 0.2342, scale: 0.1165 },
    coverage: { weight: 0.4496, mean: 0.6197, scale: 0.2865 },
    coverageTop3: { weight: 0.8039, mean: 0.708, scale: 0.2683 },
    uncoveredMatch: { weight: 0.6366, mean: 0.3806, scale: 0.4164 },
    listsAgree: { weight: -0.7418, mean: 0.8148, scale: 0.3884 },
  },
};
