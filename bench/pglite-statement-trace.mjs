// Time spent inside PGlite per protocol message and statement, for a process under load: preload
// it into the process to measure (`NODE_OPTIONS="--import ./bench/pglite-statement-trace.mjs"`,
// which child processes inherit, e.g. `npm run bench:pipeline -- --embedded`). Every second after
// PGLITE_TRACE_SKIP_MS (default 15000: start-up, indexing, warm-up) it writes the top 40 rows to
// PGLITE_TRACE_DIR (default the OS temp dir)/pglite-trace-<pid>.txt: milliseconds, calls, the
// message (P parse, B bind, E execute, D describe, S sync, Q simple query) and its SQL, plus the
// writes to PGlite's in-memory files (`FSWRITE`, by folder). Wall time of synchronous WASM calls:
// on a loaded machine compare calls per statement against statements left unchanged.
// Patches PGlite's `execProtocolRawSync` (the node_modules of the working directory): a
// measurement aid, never loaded by the product.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { PGlite } = require(join(process.cwd(), 'node_modules/@electric-sql/pglite/dist/index.cjs'));
const skipMs = Number(process.env.PGLITE_TRACE_SKIP_MS ?? 15000);
const out = join(process.env.PGLITE_TRACE_DIR ?? tmpdir(), `pglite-trace-${process.pid}.txt`);
const stats = new Map();
const statementTexts = new Map();
const decoder = new TextDecoder();
let counting = false;
let lastParsed = '';
let lastBound = '';

const count = (key, ms) => {
  const entry = stats.get(key) ?? { calls: 0, ms: 0 };
  entry.calls += 1;
  entry.ms += ms;
  stats.set(key, entry);
};
const cstring = (bytes, at) => {
  let end = at;
  while (bytes[end] !== 0) end += 1;
  return [decoder.decode(bytes.subarray(at, end)), end + 1];
};
const short = (sql) => sql.replace(/\s+/g, ' ').trim().slice(0, 160);

function patchFiles(db) {
  const fs = db.mod.FS;
  const write = fs.write;
  fs.write = function (stream, ...rest) {
    const start = process.hrtime.bigint();
    try {
      return write.call(this, stream, ...rest);
    } finally {
      if (counting) {
        const folder = String(stream.path ?? '?').replace(/\/[^/]*$/, '');
        const file = /xlogtemp/.test(String(stream.path)) ? ' (new WAL segment)' : '';
        count(`FSWRITE ${folder}${file}`, Number(process.hrtime.bigint() - start) / 1e6);
      }
    }
  };
}

const execute = PGlite.prototype.execProtocolRawSync;
PGlite.prototype.execProtocolRawSync = function (message) {
  if (!this.__traced && this.mod) {
    this.__traced = true;
    patchFiles(this);
  }
  const type = String.fromCharCode(message[0]);
  let sql = '';
  if (type === 'P') {
    const [name, at] = cstring(message, 5);
    [sql] = cstring(message, at);
    statementTexts.set(name, sql);
    lastParsed = sql;
  } else if (type === 'B') {
    const [, at] = cstring(message, 5);
    const [name] = cstring(message, at);
    sql = lastBound = (name ? statementTexts.get(name) : lastParsed) ?? '';
  } else if (type === 'E') {
    sql = lastBound;
  } else if (type === 'Q') {
    [sql] = cstring(message, 5);
  }
  const start = process.hrtime.bigint();
  try {
    return execute.call(this, message);
  } finally {
    if (counting) count(`${type} ${short(sql)}`, Number(process.hrtime.bigint() - start) / 1e6);
  }
};

setTimeout(() => {
  counting = true;
}, skipMs).unref();
setInterval(() => {
  if (stats.size === 0) return;
  const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40);
  writeFileSync(
    out,
    rows
      .map(([key, e]) => `${e.ms.toFixed(0).padStart(7)} ms ${String(e.calls).padStart(7)}  ${key}`)
      .join('\n') + '\n',
  );
}, 1000).unref();
