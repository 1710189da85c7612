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
