import type { ModelTokenCounter } from '../model-provider';

const ASCII_LETTER_OR_SPACE = /[A-Za-z ]/;
const ASCII_DIGIT = /[0-9]/;

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
    for (const char of text) {
      if (ASCII_LETTER_OR_SPACE.test(char)) letters += 1;
      else if (ASCII_DIGIT.test(char)) other += 1;
      else if (char.charCodeAt(0) < 0x80) other += 1;
      else other += char.length > 1 ? 3 : 1.5;
    }
    return Math.ceil(letters / 3 + other);
  },
};
