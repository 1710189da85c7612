import type { RelevanceModel } from './relevance';

/**
 * Printed by `npm run eval:calibrate -- --lambda 1 --class-weights balanced --features
 * bestCosine,cosineMargin,bestSentenceCosine` (L2-regularised logistic regression, both classes
 * weighted equally so the tuning set's 1-in-7 share of unanswerable questions is not built into the
 * intercept) on the tuning questions of `eval/retrieval` only, with local MiniLM-L6 embeddings and
 * the default retriever; the held-out, fresh and blind questions were not used. Tuning accuracy
 * 0.917, leave-one-out 0.898. The lexical features (`coverage`, `coverageTop3`, `uncoveredMatch`,
 * `listsAgree`) are still computed and reported but not used: they separated the tuning set's
 * questions, yet on questions nobody tuned for a near miss shares more words with the passages than
 * a paraphrase does, so they pointed the wrong way (README "Relevance and abstention"). Refit when
 * the embedding model changes: cosine scales differ between models.
 */
export const DEFAULT_RELEVANCE_MODEL: RelevanceModel = {
  intercept: 1.9381,
  features: {
    bestCosine: { weight: 1.3643, mean: 0.5851, scale: 0.1253 },
    cosineMargin: { weight: 0.5268, mean: 0.2342, scale: 0.1165 },
    bestSentenceCosine: { weight: 1.0249, mean: 0.6088, scale: 0.1413 },
  },
};
