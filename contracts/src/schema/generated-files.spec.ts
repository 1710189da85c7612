import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedContractFiles } from './generated-files';

const contractsDir = join(__dirname, '..', '..');

function listFiles(dir: string, prefix: string): string[] {
  return readdirSync(join(contractsDir, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? listFiles(join(dir, entry.name), `${prefix}${entry.name}/`)
      : [`${prefix}${entry.name}`],
  );
}

describe('generated contract files', () => {
  const expected = generatedContractFiles();

  it('match the payload classes byte for byte (run `npm run contracts:generate` after changing a contract)', () => {
    for (const [path, content] of Object.entries(expected)) {
      expect({ path, content: readFileSync(join(contractsDir, path), 'utf8') }).toEqual({ path, content });
    }
  });

  it('include no stale file for an event that no longer exists', () => {
    expect(listFiles('generated', 'generated/').sort()).toEqual(Object.keys(expected).sort());
  });
});
