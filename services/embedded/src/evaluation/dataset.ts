import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Ajv from 'ajv';
import type { DocumentSubmitted } from '@llmbus/contracts';

/** A label value: what an output field must equal (`null`: the field must be null). */
export type LabelValue = string | number | boolean | null;

/** What an item's outcome must be for the item to count as a task success. */
export interface EvalExpectation {
  /** Output fields that must equal the label. Paths rooted at `output.`; `name[key=value]` picks an array element. */
  readonly fields?: Readonly<Record<string, LabelValue>>;
  /** Output text fields that must contain each string (case-insensitive). */
  readonly contains?: Readonly<Record<string, readonly string[]>>;
  /** Output text fields that must contain none of the strings (case-insensitive): injected instructions obeyed. */
  readonly notContains?: Readonly<Record<string, readonly string[]>>;
  /** Ids of the documents a correct answer cites (citation precision and recall). */
  readonly citations?: readonly string[];
  /** Per clause type, whether its deviation is `high` (≥ 0.5) or `low` (contract review). */
  readonly deviations?: Readonly<Record<string, 'high' | 'low'>>;
  /** The answer must abstain (the workflow's `validation.abstention` field true). */
  readonly mustAbstain?: boolean;
  /** The request must end in review (a human decides). */
  readonly mustEscalate?: boolean;
  /** Documents the requester may not read matched the question (ContextRetrieved.withheldCount > 0). */
  readonly withheld?: boolean;
}

/** One labelled item of a dataset (one JSONL line); see eval/workflows/README.md. */
export interface EvalItem {
  readonly id: string;
  readonly workflow: string;
  readonly eventType: string;
  /** Tenant the request and its corpus belong to. Default `eval`. */
  readonly tenant: string;
  readonly requester: { readonly userId?: string; readonly groups: readonly string[] };
  readonly input: Readonly<Record<string, unknown>>;
  /** Corpus manifest, relative to the dataset file; ingested once per tenant before the items run. */
  readonly corpus?: string;
  readonly expected: EvalExpectation;
  readonly tags: readonly string[];
  /**
   * What the scripted model answers for this item: `output` with `@doc:<documentId>` standing for
   * the id of a passage of that document in the prompt; `fallback` when a cited document is not
   * among the passages it was given (what a competent model does without the source).
   */
  readonly scripted?: {
    readonly output: Readonly<Record<string, unknown>>;
    readonly fallback?: Readonly<Record<string, unknown>>;
  };
}

/** The documents of one corpus manifest, as DocumentSubmitted payloads (sourceUri `kb://<collection>/<documentId>`). */
export interface EvalCorpus {
  readonly path: string;
  readonly documents: readonly DocumentSubmitted[];
}

export interface EvalDataset {
  readonly path: string;
  readonly items: readonly EvalItem[];
  /** Corpora by resolved manifest path. */
  readonly corpora: ReadonlyMap<string, EvalCorpus>;
}

/** Raised for a dataset or manifest that does not parse or match the format; the message names file, line and field. */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
}

const ID = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const strings = { type: 'array', items: { type: 'string', minLength: 1 } };
const ITEM_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'workflow', 'eventType', 'requester', 'input', 'expected'],
  properties: {
    id: { type: 'string', pattern: ID },
    workflow: { type: 'string', pattern: ID },
    eventType: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,99}$' },
    tenant: { type: 'string', pattern: ID },
    requester: {
      type: 'object',
      additionalProperties: false,
      required: ['groups'],
      properties: { userId: { type: 'string' }, groups: strings },
    },
    input: { type: 'object' },
    corpus: { type: 'string', minLength: 1 },
    expected: {
      type: 'object',
      additionalProperties: false,
      properties: {
        fields: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } },
        contains: { type: 'object', additionalProperties: strings },
        notContains: { type: 'object', additionalProperties: strings },
        citations: strings,
        deviations: { type: 'object', additionalProperties: { enum: ['high', 'low'] } },
        mustAbstain: { type: 'boolean' },
        mustEscalate: { type: 'boolean' },
        withheld: { type: 'boolean' },
      },
    },
    tags: strings,
    scripted: {
      type: 'object',
      additionalProperties: false,
      required: ['output'],
      properties: { output: { type: 'object' }, fallback: { type: 'object' } },
    },
  },
} as const;

const MANIFEST_SCHEMA = {
  type: 'object',
  required: ['documents'],
  properties: {
    documents: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['file', 'documentId', 'collection'],
        properties: {
          file: { type: 'string', minLength: 1 },
          documentId: { type: 'string', pattern: ID },
          collection: { type: 'string', pattern: ID },
          aclGroups: strings,
        },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validateItem = ajv.compile(ITEM_SCHEMA);
const validateManifest = ajv.compile(MANIFEST_SCHEMA);

function describe(errors: typeof validateItem.errors): string {
  return (errors ?? [])
    .map(
      (e) =>
        `${e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(item)'} ${e.message ?? 'is invalid'}`,
    )
    .join('; ');
}

/**
 * Reads a dataset (JSONL, one item a line; blank lines and lines starting with `//` skipped) and
 * the corpus manifests its items name. Throws DatasetError naming the file, line and field of the
 * first problem; item ids must be unique.
 */
export function loadDataset(file: string): EvalDataset {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DatasetError(`cannot read dataset ${path}: ${(error as Error).message}`);
  }
  const items: EvalItem[] = [];
  const corpora = new Map<string, EvalCorpus>();
  const ids = new Set<string>();
  text.split('\n').forEach((line, index) => {
    const where = `${path}:${index + 1}`;
    if (line.trim() === '' || line.trim().startsWith('//')) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new DatasetError(`${where}: not JSON (${(error as Error).message})`);
    }
    if (!validateItem(value)) throw new DatasetError(`${where}: ${describe(validateItem.errors)}`);
    const raw = value as Omit<EvalItem, 'tenant' | 'tags'> & { tenant?: string; tags?: string[] };
    if (ids.has(raw.id)) throw new DatasetError(`${where}: id ${raw.id} is used by an earlier item`);
    ids.add(raw.id);
    const item: EvalItem = { ...raw, tenant: raw.tenant ?? 'eval', tags: raw.tags ?? [] };
    if (item.corpus !== undefined) {
      const manifest = resolve(dirname(path), item.corpus);
      if (!corpora.has(manifest)) corpora.set(manifest, loadCorpus(manifest, where));
    }
    items.push(item);
  });
  if (items.length === 0) throw new DatasetError(`${path}: no items`);
  return { path, items, corpora };
}

/** Reads a corpus manifest ({documents: [{file, documentId, collection, aclGroups?}]}, files relative to it). */
export function loadCorpus(manifestPath: string, where = manifestPath): EvalCorpus {
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (error) {
    throw new DatasetError(`${where}: corpus ${manifestPath}: ${(error as Error).message}`);
  }
  if (!validateManifest(manifest))
    throw new DatasetError(`${manifestPath}: ${describe(validateManifest.errors)}`);
  const entries = (
    manifest as {
      documents: { file: string; documentId: string; collection: string; aclGroups?: string[] }[];
    }
  ).documents;
  const documents = entries.map((entry): DocumentSubmitted => {
    const file = join(dirname(manifestPath), entry.file);
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (error) {
      throw new DatasetError(`${manifestPath}: document ${entry.documentId}: ${(error as Error).message}`);
    }
    return {
      documentId: entry.documentId,
      collection: entry.collection,
      title: /^#\s+(.+)$/m.exec(content)?.[1]?.trim() ?? entry.documentId,
      sourceUri: `kb://${entry.collection}/${entry.documentId}`,
      contentType: 'text/markdown',
      content,
      aclGroups: entry.aclGroups ?? [],
      version: 1,
    };
  });
  return { path: manifestPath, documents };
}
