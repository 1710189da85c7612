// `npm start`: builds the workspace, fetches the local models when they are missing, then runs
// every stage in one process (embedded mode). Extra arguments are ignored; configure with env.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { superviseChild } from './platform-child.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(label, args) {
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`npm start: ${label} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

run('build', [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json']);
const usesOpenAI = Boolean(process.env.OPENAI_API_KEY) && process.env.LLMBUS_MODEL_PROVIDER !== 'local';
if (!usesOpenAI) run('models:pull', [join(root, 'scripts/models-pull.mjs')]);
const main = join(root, 'services/embedded/dist/main.js');
if (!existsSync(main)) {
  console.error(`npm start: ${main} is missing after the build`);
  process.exit(1);
}
// The platform runs in a child process; this one stays until it has exited, so a terminal does
// not get its prompt back (and lose Ctrl-C) while the platform is still stopping. The platform
// handles the signals itself (README "What `npm start` does"): the first stops it with a grace
// period for in-flight work, a second exits at once. superviseChild passes them on, and stops the
// platform when npm's shell has gone (see there).
const child = spawn(process.execPath, [main], { cwd: root, stdio: 'inherit' });
superviseChild(child, Boolean(process.stdin.isTTY));
