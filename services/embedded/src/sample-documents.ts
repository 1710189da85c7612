import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DocumentSubmitted } from '@llmbus/contracts';

/** One entry of a manifest.json; the optional fields are DocumentSubmitted's. */
interface ManifestEntry {
  readonly file: string;
  readonly collection: string;
  readonly aclGroups: string[];
  /** Default: the file's path without its extension, other characters than A-Z a-z 0-9 . _ : - as "-". */
  readonly documentId?: string;
  /** Default: the first `# ` heading, else the file name. */
  readonly title?: string;
  readonly version?: number;
  readonly supersedes?: string[];
  readonly effectiveDate?: string;
  readonly versionLabel?: string;
}

interface Manifest {
  readonly tenant: string;
  readonly documents: readonly ManifestEntry[];
}

/**
 * The documents of a folder with a manifest.json (`{tenant, documents: [{file, collection,
 * aclGroups, documentId?, title?, version?, supersedes?, effectiveDate?, versionLabel?}]}`), as
 * DocumentSubmitted payloads: markdown, except `.txt` (plain) and `.html`. Throws naming the file
 * when the manifest or a document cannot be read; the retriever checks the payloads.
 */
export function loadSampleDocuments(dir: string): { tenant: string; documents: DocumentSubmitted[] } {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const documents = manifest.documents.map((entry) => {
    const content = readFileSync(join(dir, entry.file), 'utf8');
    const title = entry.title ?? /^#\s+(.+)$/m.exec(content)?.[1]?.trim() ?? entry.file;
    const contentType = entry.file.endsWith('.txt')
      ? ('text/plain' as const)
      : entry.file.endsWith('.html')
        ? ('text/html' as const)
        : ('text/markdown' as const);
    return {
      documentId: entry.documentId ?? entry.file.replace(/\.[a-z]+$/, '').replace(/[^A-Za-z0-9._:-]+/g, '-'),
      collection: entry.collection,
      title,
      sourceUri: relative(process.cwd(), join(dir, entry.file)) || entry.file,
      contentType,
      content,
      aclGroups: entry.aclGroups,
      version: entry.version ?? 1,
      ...(entry.supersedes ? { supersedes: entry.supersedes } : {}),
      ...(entry.effectiveDate ? { effectiveDate: entry.effectiveDate } : {}),
      ...(entry.versionLabel ? { versionLabel: entry.versionLabel } : {}),
    };
  });
  return { tenant: manifest.tenant, documents };
}

/**
 * The folders of `LLMBUS_DOCUMENTS` (comma-separated; each holds a manifest.json naming its
 * tenant), loaded like the samples: the documents `npm start` indexes besides (or, with
 * LLMBUS_SAMPLES=off, instead of) the samples. Empty when unset.
 */
export function loadDocumentFolders(
  list: string | undefined,
): { tenant: string; documents: DocumentSubmitted[] }[] {
  const folders = (list ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  return folders.map((folder) => {
    try {
      return loadSampleDocuments(folder);
    } catch (error) {
      throw new Error(
        `LLMBUS_DOCUMENTS: cannot load ${folder} (a folder with a manifest.json: {"tenant", "documents": [{"file", "collection", "aclGroups", …}]}): ${(error as Error).message}`,
      );
    }
  });
}

/**
 * The sample folders `npm start` indexes, relative to `samples/`: the product documents
 * (collection `product-docs`, for the support-ticket workflow) and the approved runbooks
 * (collection `runbooks`, for the IT runbook workflow and `samples/alerts`). Each holds a manifest.json.
 */
export const SAMPLE_DOCUMENT_FOLDERS: readonly string[] = ['documents', join('documents', 'runbooks')];

/**
 * Every sample document of `SAMPLE_DOCUMENT_FOLDERS` under `samplesDir`, one entry per folder with
 * its manifest's tenant. Throws (naming the file) when a manifest or document cannot be read, and
 * when two folders give the same document id to one tenant.
 */
export function loadAllSampleDocuments(
  samplesDir: string,
): { tenant: string; documents: DocumentSubmitted[] }[] {
  const sets = SAMPLE_DOCUMENT_FOLDERS.map((folder) => loadSampleDocuments(join(samplesDir, folder)));
  const seen = new Set<string>();
  for (const { tenant, documents } of sets) {
    for (const { documentId } of documents) {
      const key = `${tenant}/${documentId}`;
      if (seen.has(key))
        throw new Error(
          `sample document id ${documentId} of tenant ${tenant} is used twice under ${samplesDir}`,
        );
      seen.add(key);
    }
  }
  return sets;
}
