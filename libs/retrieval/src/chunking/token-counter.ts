/** Counts the tokens of a text the way the embedding model will; used to bound chunk sizes. */
export type TokenCounter = (text: string) => number;

/** Fallback when no tokenizer is at hand: about four characters per token for English text. */
export const estimateTokens: TokenCounter = (text) => Math.ceil(text.length / 4);
