// Regenerates contracts/generated (JSON Schemas and the AsyncAPI document) from the payload classes.
// A unit test fails when the checked-in files drift from what this writes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'contracts'], { cwd: root, stdio: 'inherit' });
const require = createRequire(import.meta.url);
require('reflect-metadata');
const { generatedContractFiles } = require(join(root, 'contracts/dist/index.js'));

const contractsDir = join(root, 'contracts');
rmSync(join(contractsDir, 'generated'), { recursive: true, force: true });
const files = generatedContractFiles();
for (const [path, content] of Object.entries(files)) {
  mkdirSync(dirname(join(contractsDir, path)), { recursive: true });
  writeFileSync(join(contractsDir, path), content);
}
console.log(`wrote ${Object.keys(files).length} files under contracts/generated`);
