import nlp from 'compromise';
import { spanOf, type PiiDetector, type PiiSpan } from './pii-detector';

interface CompromiseMatch {
  readonly text: string;
  readonly offset: { readonly start: number; readonly length: number };
}

const CAPITALISED_WORD = /\p{Lu}\p{Ll}/u;
/** A capitalised word of two letters or more: compromise also tags fragments such as "LT-". */
const PERSON_SHAPE = /^\p{Lu}.*\p{Ll}/u;
/** Company suffixes: "Grant Holdings LLC" reads like a surname pair. */
const ORGANISATION_AFTER = /^,? (?:LLC|Ltd|Inc|GmbH|AG|SE|plc|B\.V)\b/;
const TRAILING = /[\s.,;:!?'")\]]+$/;

/**
 * Person names by compromise, a rule-and-lexicon NLP library that runs in process with no model
 * download: it tags first names, surnames and honorifics and groups them into people.
 */
export class CompromisePersonDetector implements PiiDetector {
  readonly name = 'compromise';

  /** PERSON spans, trailing punctuation trimmed. */
  detect(text: string): PiiSpan[] {
    // Tagging costs about a millisecond per 100 characters; without a capitalised word there is no name to find.
    if (!CAPITALISED_WORD.test(text)) return [];
    const matches = nlp(text).people().json({ offset: true }) as CompromiseMatch[];
    const spans: PiiSpan[] = [];
    for (const match of matches) {
      const start = match.offset.start;
      const raw = text.slice(start, start + match.offset.length);
      const end = start + raw.replace(TRAILING, '').length;
      const name = text.slice(start, end);
      if (PERSON_SHAPE.test(name) && !ORGANISATION_AFTER.test(text.slice(end, end + 8)))
        spans.push(spanOf(text, 'PERSON', start, end, 0.6));
    }
    return spans;
  }
}
