import { LRUCache } from 'lru-cache';
import type { OutputText } from './free-text-fields';
import { schemaDescriptions } from './free-text-fields';
import { ngramOverlap, wordNgrams, wordsOf } from './lexical-support';
import { DATA_POLICY } from './prompt-renderer';
import type { WorkflowDefinition } from './workflow-definition';

/** Word n-gram length for copy detection: long enough that shared phrasing is not coincidence. */
export const COPY_NGRAM = 3;
/** A text whose word trigrams are at least this share instruction trigrams copies the prompt. */
export const COPY_OVERLAP = 0.5;

// Placeholder answers small models fall back to when they have nothing to say.
const BOILERPLATE = new Set([
  'n a',
  'na',
  'none',
  'null',
  'nil',
  'undefined',
  'todo',
  'tbd',
  'tba',
  'string',
  'text',
  'value',
  'example',
  'placeholder',
  'lorem ipsum',
  'your reply here',
  'reply here',
  'insert reply here',
  'answer',
  'your answer',
  'answer here',
  'response',
  'xxx',
  'test',
  'unknown',
  'no comment',
]);

/** Instruction trigram sets kept per workflow, per text of the rendered prompt's system messages. */
const INSTRUCTION_NGRAMS = new WeakMap<WorkflowDefinition, LRUCache<string, ReadonlySet<string>>>();
/** System texts kept per workflow: a workflow's system message varies with few fields (its classification label). */
const MAX_SYSTEM_TEXTS = 64;

/**
 * The word trigrams of the instructions the model was given: the system message of the rendered
 * prompt (when it parses), the workflow's system template and stricter instruction, the output
 * schema's field descriptions and the platform's data policy. An output field that repeats them
 * answers nothing. The set is kept per workflow and system text (at most 64 texts a workflow, least
 * recently used out): the same workflow renders the same system message for every request, and
 * building the set was most of a validation's CPU. The returned set is shared: read it, never change it.
 */
export function instructionNgrams(
  workflow: WorkflowDefinition,
  renderedPrompt?: string,
): ReadonlySet<string> {
  const system = systemMessages(renderedPrompt);
  const key = system.join('\u0000');
  let kept = INSTRUCTION_NGRAMS.get(workflow);
  if (kept === undefined) {
    kept = new LRUCache({ max: MAX_SYSTEM_TEXTS });
    INSTRUCTION_NGRAMS.set(workflow, kept);
  }
  let grams = kept.get(key);
  if (grams === undefined) {
    const texts = [
      workflow.prompt.system,
      workflow.validation.stricterInstruction,
      DATA_POLICY,
      ...schemaDescriptions(workflow.output.schema),
      ...system,
    ];
    // Line by line: a trigram never spans two instruction lines.
    grams = new Set(texts.flatMap((t) => t.split('\n')).flatMap((line) => wordNgrams(line, COPY_NGRAM)));
    kept.set(key, grams);
  }
  return grams;
}

/**
 * Problems of one free-text value: empty when the schema requires it, placeholder boilerplate,
 * one word repeated, or copied instructions (COPY_OVERLAP of its word trigrams are instruction trigrams).
 */
export function textProblems(text: OutputText, instructions: ReadonlySet<string>): string[] {
  const words = wordsOf(text.text);
  if (words.length === 0)
    return text.required || text.text.length > 0 ? [`${text.path}: must not be empty`] : [];
  const field = text.path.replace(/^.*[.\]]/, '').toLowerCase();
  const normalised = words.join(' ');
  if (BOILERPLATE.has(normalised) || normalised === field || normalised.startsWith('lorem ipsum'))
    return [`${text.path}: is placeholder text ("${text.text.trim().slice(0, 60)}"), not an answer`];
  if (words.length >= 3 && new Set(words).size === 1)
    return [`${text.path}: repeats one word ("${words[0]}") instead of answering`];
  const overlap = ngramOverlap(text.text, instructions, COPY_NGRAM);
  if (overlap !== undefined && overlap >= COPY_OVERLAP)
    return [
      `${text.path}: copies the prompt's instructions (${Math.round(overlap * 100)}% of its word trigrams) instead of answering`,
    ];
  return [];
}

/** The system messages of a rendered prompt (a JSON array of {role, content}); none when it does not parse. */
function systemMessages(renderedPrompt: string | undefined): string[] {
  if (!renderedPrompt) return [];
  try {
    const messages: unknown = JSON.parse(renderedPrompt);
    if (!Array.isArray(messages)) return [];
    return messages.flatMap((m: unknown) => {
      if (typeof m !== 'object' || m === null) return [];
      const { role, content } = m as { role?: unknown; content?: unknown };
      return role === 'system' && typeof content === 'string' ? [content] : [];
    });
  } catch {
    return [];
  }
}
