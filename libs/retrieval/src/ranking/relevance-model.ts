import type { RelevanceModel } from './relevance';

/**
 * Printed by `npm run eval:calibrate -- --lambda 1 --class-weights balanced` (L2-regularised
 * logistic regression, both classes weighted equally so the tuning set's 1-in-7 share of
 * unanswerable questions is not built into the intercept) on the tuning questions of
 * `eval/retrieval` only, with local MiniLM-L6 embeddings and the default retriever; the held-out
 * and fresh questions were not used. Tuning accuracy 0.898, leave-one-out 0.870. Refit when the
 * embedding model changes: cosine scales differ between models.
 */
export const DEFAULT_RELEVANCE_MODEL: RelevanceModel = {
  intercept: 2.1182,
  features: {
    bestCosine: { weight: 1.9355, mean: 0.5851, scale: 0.1253 },
    cosineMargin: { weight: 0.4882, mean: 0.2342, scale: 0.1165 },
    coverage: { weight: 0.1855, mean: 0.6173, scale: 0.2844 },
    coverageTop3: { weight: 0.5139, mean: 0.7238, scale: 0.2465 },
    uncoveredMatch: { weight: 0.5842, mean: 0.3819, scale: 0.4157 },
    listsAgree: { weight: -0.3947, mean: 0.8981, scale: 0.3025 },
  },
};
