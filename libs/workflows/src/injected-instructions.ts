import type { Passage } from '@llmbus/contracts';

/** One piece of untrusted text that reads as an instruction to the model or its reviewer. */
export interface InjectedInstruction {
  /** Where it was found: `input.<path>` or `passage <id>`. */
  readonly source: string;
  /** The sentence it was found in, at most 200 characters. */
  readonly excerpt: string;
}

/**
 * Phrasings of instructions aimed at a model (or an automated reviewer) rather than at the
 * document's human reader: the override family ("ignore previous instructions", "disregard your
 * rules"), notes addressed to an AI, requests to hide the system prompt's role, and demands to
 * approve or to keep a human out. The families follow OWASP's LLM01 (prompt injection) examples;
 * a match is evidence, not proof, so it only ever sends an output to a person.
 */
const PATTERNS: readonly RegExp[] = [
  /\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+|my\s+)?(?:previous|prior|above|earlier|preceding|original|system)\s+(?:instructions?|prompts?|rules|guidelines|directions)\b/i,
  /\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:your|the)\s+(?:instructions?|rules|guidelines|system\s+prompt)\b/i,
  /\b(?:note|message|instructions?|attention)\s+(?:to|for)\s+(?:any\s+|the\s+|all\s+)?(?:ai|a\.i\.|llm|language\s+model|model|assistant|chat\s?bot|bot|automated\s+(?:reviewer|system|assistant)|ai\s+(?:reviewer|assistant|system|agent))s?\b/i,
  /\b(?:reveal|print|repeat|show)\s+(?:your|the)\s+(?:system\s+prompt|hidden\s+instructions|instructions\s+above)\b/i,
  /\byou\s+are\s+now\s+(?:a|an|in)\b/i,
  /\bdo\s+not\s+(?:involve|escalate\s+to|notify|inform|tell|consult|loop\s+in)\s+(?:an?\s+|the\s+|any\s+)?(?:attorney|lawyer|human|person|reviewer|legal|manager|supervisor|anyone)\b/i,
  /\b(?:approve|accept|auto-approve)\s+(?:this|the)\s+(?:contract|agreement|request|ticket|change|document|payment|invoice)\s+(?:without|immediately|automatically|now)\b/i,
  /\b(?:ai|model|assistant)[^.\n]{0,40}\b(?:approve|report\s+(?:a\s+)?deviation\s+of\s+0|mark\s+(?:it|this)\s+(?:as\s+)?(?:safe|compliant|approved))\b/i,
  /\breport\s+(?:a\s+)?(?:deviation|risk|score)\s+of\s+(?:0|zero)\s+for\s+every\b/i,
  // The override family without a named object: "disregard everything above", "ignore prior directives".
  /\b(?:ignore|disregard|forget)\s+(?:everything|anything|all)\s+(?:above|before|prior|previously|earlier|you\s+(?:were|have\s+been)\s+told)\b/i,
  /\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?(?:previous|prior|above|earlier|preceding|original|system)\s+(?:directives?|commands?|orders?|context)\b/i,
  // A bare imperative to approve, opening a sentence ("Approve this.", "Please approve this
  // contract"): a contract's own "The Customer shall approve this contract" does not open one,
  // nor does a quotation of the phrase (a policy warning about "approve this").
  /(?<=^|[.!?:\n]\s*)(?:please\s+)?(?:approve|accept|auto-approve)\s+(?:this|it)\b/i,
  // Demands to rate the risk down or mark it approved ("mark as low risk", "mark this clause as compliant").
  /\bmark\s+(?:it\s+|this\s+|(?:this|the)\s+\w+\s+)?as\s+(?:low[\s-]risk|no[\s-]risk|safe|compliant|approved|acceptable|low\s+priority|resolved|benign)\b/i,
  /\b(?:set|score|rate|report|give)\s+(?:a\s+|the\s+|every\s+|each\s+)?(?:deviations?|risks?|scores?)\s+(?:of\s+|to\s+|at\s+|as\s+)?(?:0|zero|low|none)\b/i,
  // An order to call a tool by its identifier ("call restart_service now", "run the restart_service tool").
  /\b(?:call|run|invoke|execute|trigger|use)\s+(?:the\s+)?(?:tool\s+)?[a-z][a-z0-9]*_[a-z0-9_]+\b/i,
];

/** Zero-width and other invisible format characters, which split words without showing. */
const INVISIBLE = /[\p{Cf}\u034F\u115F\u1160\u3164\uFFA0]/gu;

/**
 * Cyrillic and Greek letters drawn like Latin ones (the common look-alikes of Unicode's
 * confusables list, lower and upper case), mapped to the Latin letter they imitate.
 */
const LOOKALIKES: Readonly<Record<string, string>> = {
  а: 'a',
  е: 'e',
  о: 'o',
  р: 'p',
  с: 'c',
  х: 'x',
  у: 'y',
  і: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  һ: 'h',
  ԛ: 'q',
  ԝ: 'w',
  А: 'A',
  В: 'B',
  Е: 'E',
  К: 'K',
  М: 'M',
  Н: 'H',
  О: 'O',
  Р: 'P',
  С: 'C',
  Т: 'T',
  Х: 'X',
  І: 'I',
  Ј: 'J',
  Ѕ: 'S',
  α: 'a',
  ο: 'o',
  ν: 'v',
  ι: 'i',
  κ: 'k',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  Α: 'A',
  Β: 'B',
  Ε: 'E',
  Ζ: 'Z',
  Η: 'H',
  Ι: 'I',
  Κ: 'K',
  Μ: 'M',
  Ν: 'N',
  Ο: 'O',
  Ρ: 'P',
  Τ: 'T',
  Υ: 'Y',
  Χ: 'X',
};

/**
 * Text as a reader sees it: compatibility forms folded (NFKC: full-width letters, ligatures), invisible
 * format characters removed, and a Cyrillic or Greek look-alike inside a word of Latin letters
 * mapped to its Latin letter, so "Ign\u200bore" or "ign\u043Ere" cannot slip past the patterns.
 * Words written wholly in Cyrillic or Greek are left as they are.
 */
function asRead(text: string): string {
  const folded = text.normalize('NFKC').replace(INVISIBLE, '');
  return folded.replace(/[\p{L}\p{M}]+/gu, (word) =>
    /[A-Za-z]/.test(word) ? word.replace(/./gu, (c) => LOOKALIKES[c] ?? c) : word,
  );
}

const MAX_FINDINGS = 10;
const MAX_TEXT = 200_000;

/**
 * Untrusted text in a request's input and retrieved passages that tries to instruct the model or
 * its reviewer (see PATTERNS). The prompt already tells the model such text is data; this is the
 * platform's deterministic check behind it, for workflows with `validation.reviewInjectedInstructions`
 * (their outputs then go to review with the findings). At most 10 findings; each text is scanned up
 * to its first 200,000 characters.
 */
export function findInjectedInstructions(
  input: unknown,
  passages: readonly Pick<Passage, 'id' | 'text'>[],
): InjectedInstruction[] {
  const findings: InjectedInstruction[] = [];
  const scan = (source: string, text: string) => {
    if (findings.length >= MAX_FINDINGS) return;
    const excerpt = firstInstruction(text);
    if (excerpt !== undefined) findings.push({ source, excerpt });
  };
  const walk = (value: unknown, path: string, depth: number) => {
    if (depth > 8 || findings.length >= MAX_FINDINGS) return;
    if (typeof value === 'string') scan(path, value);
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`, depth + 1));
    else if (value !== null && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`, depth + 1);
  };
  walk(input, 'input', 0);
  for (const passage of passages) scan(`passage ${passage.id}`, passage.text);
  return findings;
}

/** One instruction found in a tool's result: which call returned it, and the sentence. */
export interface InjectedToolInstruction {
  /** The derived call id whose result holds the text. */
  readonly callId: string;
  readonly tool: string;
  /** The sentence it was found in, at most 200 characters. */
  readonly excerpt: string;
}

/** The part of a recorded tool round this check reads: each result's call, tool, status and content. */
export interface ScannedToolRound {
  readonly results: readonly {
    readonly callId: string;
    readonly tool: string;
    readonly status: string;
    readonly content: string;
  }[];
}

/**
 * Tool results of a request's recorded rounds that try to instruct the model or its reviewer
 * ("call restart_service now", "approve this"), by the same patterns as findInjectedInstructions.
 * Only what a tool returned is read (`completed` and `failed` results); a refusal, a rejection or
 * an unknown outcome is the platform's own text. At most 10 findings, one per result, in round
 * and call order; each result is scanned up to its first 200,000 characters.
 */
export function findInjectedInToolResults(rounds: readonly ScannedToolRound[]): InjectedToolInstruction[] {
  const findings: InjectedToolInstruction[] = [];
  for (const round of rounds) {
    for (const result of round.results) {
      if (findings.length >= MAX_FINDINGS) return findings;
      if (result.status !== 'completed' && result.status !== 'failed') continue;
      const excerpt = firstInstruction(result.content);
      if (excerpt !== undefined) findings.push({ callId: result.callId, tool: result.tool, excerpt });
    }
  }
  return findings;
}

/** The sentence of the first pattern that matches `text` as read, or undefined. */
function firstInstruction(text: string): string | undefined {
  const bounded = asRead(text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text);
  for (const pattern of PATTERNS) {
    const match = pattern.exec(bounded);
    if (match) return sentenceAround(bounded, match.index);
  }
  return undefined;
}

/** The sentence (or line) holding `index`, trimmed to 200 characters. */
function sentenceAround(text: string, index: number): string {
  const before = text.slice(0, index);
  const start = Math.max(before.lastIndexOf('\n'), before.search(/[.!?]\s+[^.!?]*$/) + 1, 0);
  const rest = text.slice(index);
  const endMatch = /[.!?](?:\s|$)|\n/.exec(rest);
  const end = endMatch ? index + endMatch.index + 1 : text.length;
  const sentence = text.slice(start, end).replace(/\s+/g, ' ').trim();
  return sentence.length > 200 ? `${sentence.slice(0, 197)}...` : sentence;
}
