/** Counts tokens the way a model's tokenizer would (or close enough to budget a prompt). */
export interface TokenCounter {
  count(text: string): number;
}

/**
 * The fallback counter: one token per four characters, rounded up. English averages about four
 * characters per token on common tokenizers; plug in the model's own tokenizer when exactness matters.
 */
export const approximateTokenCounter: TokenCounter = {
  count: (text: string) => Math.ceil(text.length / 4),
};
