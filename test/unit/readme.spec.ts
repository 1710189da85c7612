import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOPICS } from '@llmbus/contracts';

const ROOT = join(__dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sourceFiles(path);
    return /\.m?ts$/.test(entry.name) && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Environment variable names the code reads, as quoted string literals. */
function envVariablesInCode(): string[] {
  const pattern =
    /['"`]((?:LLMBUS|KAFKA|OPENAI|OIDC|RETRIEVAL|QDRANT)_[A-Z0-9_]+|DATABASE_URL|API_KEYS|HTTP_PORT|HTTP_HOST|LOG_LEVEL|LOG_FORMAT)['"`]/g;
  const names = new Set<string>();
  for (const file of [...sourceFiles(join(ROOT, 'libs')), ...sourceFiles(join(ROOT, 'services'))]) {
    for (const match of readFileSync(file, 'utf8').matchAll(pattern)) names.add(match[1]);
  }
  return [...names].sort();
}

describe('README', () => {
  it('documents every topic of the registry', () => {
    expect(TOPICS.map((t) => t.name).filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });

  it('documents every environment variable the code reads', () => {
    const names = envVariablesInCode();
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });

  it('starts with the two commands', () => {
    const firstBlock = readme.slice(readme.indexOf('```'), readme.indexOf('```', readme.indexOf('```') + 3));
    expect(firstBlock).toContain('npm start');
    expect(firstBlock).toContain('npm test');
  });
});
