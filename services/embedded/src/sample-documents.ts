import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DocumentSubmitted } from '@llmbus/contracts';

interface Manifest {
  readonly tenant: string;
  readonly documents: readonly { file: string; collection: string; aclGroups: string[] }[];
}

/** The sample documents of a folder with a manifest.json, as DocumentSubmitted payloads. */
export function loadSampleDocuments(dir: string): { tenant: string; documents: DocumentSubmitted[] } {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const documents = manifest.documents.map((entry) => {
    const content = readFileSync(join(dir, entry.file), 'utf8');
    const title = /^#\s+(.+)$/m.exec(content)?.[1]?.trim() ?? entry.file;
    return {
      documentId: entry.file.replace(/\.[a-z]+$/, '').replace(/[^A-Za-z0-9._:-]+/g, '-'),
      collection: entry.collection,
      title,
      sourceUri: relative(process.cwd(), join(dir, entry.file)) || entry.file,
      contentType: 'text/markdown' as const,
      content,
      aclGroups: entry.aclGroups,
      version: 1,
    };
  });
  return { tenant: manifest.tenant, documents };
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
