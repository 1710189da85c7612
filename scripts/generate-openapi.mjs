// Regenerates contracts/openapi (one OpenAPI 3 document per HTTP surface) from the services'
// controllers and DTOs. A unit test fails when the checked-in files drift from what this writes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'services/router', 'services/auditor'], {
  cwd: root,
  stdio: 'inherit',
});
const require = createRequire(import.meta.url);
require('reflect-metadata');
const { formatOpenApiDocument } = require(join(root, 'libs/http-nest/dist/index.js'));
const { routerOpenApiDocument } = require(join(root, 'services/router/dist/index.js'));
const { auditorOpenApiDocument } = require(join(root, 'services/auditor/dist/index.js'));

const dir = join(root, 'contracts/openapi');
mkdirSync(dir, { recursive: true });
for (const [name, describe] of [
  ['router', routerOpenApiDocument],
  ['auditor', auditorOpenApiDocument],
]) {
  writeFileSync(join(dir, `${name}.json`), formatOpenApiDocument(await describe()));
  console.log(`wrote contracts/openapi/${name}.json`);
}
