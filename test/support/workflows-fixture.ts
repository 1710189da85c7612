// The shipped workflows, written to a folder of their own without the evidence-based confidence
// thresholds, for suites whose scripted model answers are not grounded in indexed documents and
// that test something else (delivery under faults, personal-data handling), not answer quality.
// Workflows with a classifier step (support-ticket v2) are left out: their checks (the category
// must match the classification) need a model that reads the ticket, so these suites keep
// routing tickets to support-ticket v1.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

const SHIPPED = join(__dirname, '..', '..', 'workflows');

/**
 * Writes every `workflows/*.yaml` without a `classify:` step into `dir` (a fresh temp folder when
 * omitted) with its `validation.confidence` removed, and returns the folder for `LLMBUS_WORKFLOWS_DIR`.
 */
export function workflowsWithoutConfidence(dir?: string): string {
  const target = dir ? join(dir, 'workflows') : mkdtempSync(join(tmpdir(), 'llmbus-workflows-'));
  mkdirSync(target, { recursive: true });
  for (const name of readdirSync(SHIPPED).filter((f) => f.endsWith('.yaml'))) {
    const workflow = parseYaml(readFileSync(join(SHIPPED, name), 'utf8')) as {
      validation?: { confidence?: unknown };
      classify?: unknown;
    };
    if (workflow.classify !== undefined) continue;
    delete workflow.validation?.confidence;
    writeFileSync(join(target, name), stringifyYaml(workflow));
  }
  return target;
}
