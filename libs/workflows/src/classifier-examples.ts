import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { ClassifierExample, WorkflowDefinition } from './workflow-definition';

/** The label a classifier gives when no label reaches the workflow's `classify.minScore`. */
export const UNKNOWN_LABEL = 'unknown';

const MAX_EXAMPLES = 5000;
const MAX_TEXT = 8000;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/** Where a workflow's classifier examples live: `classify.examples` relative to the workflow file, else `examples/<id>.v<version>.jsonl`. */
export function examplesPathOf(workflow: WorkflowDefinition, source: string): string {
  const name = workflow.classify?.examples ?? `examples/${workflow.id}.v${workflow.version}.jsonl`;
  return resolve(dirname(source), name);
}

/**
 * Reads and checks a classifier's examples file (JSON Lines, one `{"text", "label"}` object a
 * line; blank lines and lines starting with `#` are skipped). Returns the examples, or the problems
 * found, each naming `classify.examples`, the file and the line, so a bad file stops the stage.
 */
export function readClassifierExamples(
  workflow: WorkflowDefinition,
  source: string,
): { examples: ClassifierExample[]; problems: string[] } {
  const path = examplesPathOf(workflow, source);
  const folder = dirname(source);
  const inside = relative(folder, path);
  if (inside.startsWith('..') || isAbsolute(inside)) {
    return { examples: [], problems: [`classify.examples: ${path} must be inside the workflow's folder`] };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return {
      examples: [],
      problems: [
        `classify.examples: cannot read ${join(folder, inside)} (${(error as Error).message}); ship the labelled examples beside the workflow`,
      ],
    };
  }
  return parseClassifierExamples(text, `classify.examples (${inside})`);
}

/** Parses examples JSONL text; `where` prefixes every problem (e.g. the file name). */
export function parseClassifierExamples(
  text: string,
  where: string,
): { examples: ClassifierExample[]; problems: string[] } {
  const examples: ClassifierExample[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = `${where} line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      problems.push(`${at}: not JSON (${(error as Error).message})`);
      return;
    }
    const record = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
    const { text: exampleText, label } = record;
    const extra = Object.keys(record).filter((key) => key !== 'text' && key !== 'label');
    if (typeof exampleText !== 'string' || exampleText.trim() === '' || exampleText.length > MAX_TEXT) {
      problems.push(`${at}: "text" must be a non-empty string of at most ${MAX_TEXT} characters`);
    } else if (typeof label !== 'string' || !LABEL.test(label)) {
      problems.push(
        `${at}: "label" must be 1-100 letters, digits, ".", "_", ":" or "-", starting with a letter or digit`,
      );
    } else if (label === UNKNOWN_LABEL) {
      problems.push(`${at}: "${UNKNOWN_LABEL}" is reserved for scores below classify.minScore`);
    } else if (extra.length > 0) {
      problems.push(`${at}: unknown field(s) ${extra.join(', ')}; a line holds "text" and "label"`);
    } else {
      examples.push({ text: exampleText, label });
    }
  });
  if (problems.length === 0) {
    const labels = new Set(examples.map((e) => e.label));
    if (labels.size < 2)
      problems.push(`${where}: needs examples of at least 2 labels (found ${labels.size})`);
    if (examples.length > MAX_EXAMPLES)
      problems.push(`${where}: ${examples.length} examples; at most ${MAX_EXAMPLES}`);
  }
  return { examples, problems: problems.slice(0, 20) };
}

/** The labels of a set of examples, sorted. */
export function labelsOf(examples: readonly ClassifierExample[]): string[] {
  return [...new Set(examples.map((e) => e.label))].sort();
}
