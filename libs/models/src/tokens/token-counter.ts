import type { ModelTokenCounter } from '../model-provider';

/**
 * The counter for models whose tokenizer is unknown: an upper bound, not an average. Measured
 * against Gemma 3 (SentencePiece), o200k_base and cl100k_base on English, digits, Chinese,
 * Japanese, Russian, JSON and emoji, it never counted fewer tokens than any of them:
 * ASCII letters and spaces one token per 3 characters (English averages ~4.8 on all three),
 * a digit one token (Gemma and Llama tokenizers split digits one by one), other ASCII (punctuation,
 * newlines) one token each, a non-ASCII code point 1.5 tokens (cl100k_base spends ~1 per CJK
 * character, more on rare ones) and one outside the BMP (emoji) 3.
 */
export const conservativeTokenCounter: ModelTokenCounter = {
  count(text: string): number {
    let letters = 0;
    let other = 0;
    // By UTF-16 code unit (a regular expression test per character cost most of a prompt's
    // rendering): a surrogate pair is one code point outside the BMP, a lone surrogate counts as
    // any other non-ASCII character.
    const length = text.length;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code < 0x80) {
        if (code === 0x20 || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) letters += 1;
        else other += 1;
      } else if (
        code >= 0xd800 &&
        code <= 0xdbff &&
        i + 1 < length &&
        isLowSurrogate(text.charCodeAt(i + 1))
      ) {
        other += 3;
        i += 1;
      } else other += 1.5;
    }
    return Math.ceil(letters / 3 + other);
  },
};

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
