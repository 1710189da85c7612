#!/usr/bin/env node
// Self time per function and per package of V8 CPU profiles (`node --cpu-prof`, e.g. the files
// `npm run bench:pipeline -- --cpu-prof DIR` writes, one per stage), leaving out the first
// seconds (start-up, indexing, warm-up) so that the figures describe steady load.
//
//   node bench/cpu-profile-summary.mjs [--skip-seconds 30] [--top 25] DIR-or-FILE...
//
// For each profile: busy time after the skip (idle and program/GC shown apart), then the top
// functions by self time (name, file:line, package) and the packages by self time. A package is
// the npm package of a node_modules path, `ours:<libs|services>/<name>` for the project's code,
// `node:internal` for Node's own JavaScript and `(native)` for frames without a script.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'skip-seconds': { type: 'string', default: '30' },
    top: { type: 'string', default: '25' },
    // Functions (a regular expression on the name) whose total time, callees included, is printed.
    inclusive: { type: 'string' },
    // Busy CPU seconds per 5 s of the whole profile, to choose --skip-seconds.
    timeline: { type: 'boolean', default: false },
  },
});
const skipUs = Number(args['skip-seconds']) * 1e6;
const top = Number(args.top);
const inclusive = args.inclusive ? new RegExp(args.inclusive) : undefined;

/** The package a frame's script belongs to (see the header). */
function packageOf(url) {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    const name = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    // Our own workspace packages are linked into node_modules: name them as ours.
    return name.startsWith('@llmbus/') ? `ours:${name.slice('@llmbus/'.length)}` : name;
  }
  const ours = /\/(libs|services)\/([^/]+)\//.exec(url);
  if (ours) return `ours:${ours[1]}/${ours[2]}`;
  if (/\/contracts\/dist\//.test(url)) return 'ours:contracts';
  return url.replace(/^file:\/\//, '');
}

function shortFile(url) {
  if (!url) return '';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const ours = /\/((?:libs|services|contracts)\/.*)$/.exec(url);
  return ours ? ours[1] : url.replace(/^file:\/\//, '');
}

function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));

  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map();
  if (args.timeline) {
    const busyPer5s = [];
    let at = profile.startTime;
    for (let i = 0; i < profile.samples.length; i += 1) {
      at += profile.timeDeltas[i] ?? 0;
      if (nodes.get(profile.samples[i]).callFrame.functionName === '(idle)') continue;
      const bucket = Math.floor((at - profile.startTime) / 5e6);
      busyPer5s[bucket] = (busyPer5s[bucket] ?? 0) + (profile.timeDeltas[i] ?? 0);
    }
    const line = [...busyPer5s].map((us, i) => `${i * 5}s:${((us ?? 0) / 1e6).toFixed(1)}`).join(' ');
    console.log(`${basename(file)} busy seconds per 5 s: ${line}`);
  }
  let time = profile.startTime;
  let total = 0;
  let counted = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const delta = profile.timeDeltas[i] ?? 0;
    time += delta;
    if (time - profile.startTime < skipUs) continue;
    // The last sample holds the exit (profile written at reallyExit): not work of the run.
    if (i === profile.samples.length - 1) continue;
    if (nodes.get(profile.samples[i]).callFrame.functionName === 'reallyExit') continue;
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    total += delta;
    counted += 1;
  }
  const byFunction = new Map();
  const byPackage = new Map();
  let idle = 0;
  let special = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = nodes.get(id);
    const name = callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (name === '(program)' || name === '(garbage collector)') special += us;
    const pkg = name.startsWith('(') && !callFrame.url ? name : packageOf(callFrame.url);
    const key = `${name}\t${shortFile(callFrame.url)}:${callFrame.lineNumber + 1}\t${pkg}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const busy = total - idle;
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  console.log(
    `\n== ${basename(file)}: ${seconds.toFixed(1)} s profiled, ${(total / 1e6).toFixed(1)} s after the skip, ` +
      `busy ${(busy / 1e6).toFixed(2)} s (${counted} samples), of which program+GC ${((special / busy) * 100).toFixed(1)} %`,
  );
  const pct = (us) => `${((us / busy) * 100).toFixed(1).padStart(5)} %`;
  console.log('-- functions by self time');
  for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const [name, where, pkg] = key.split('\t');
    console.log(`${pct(us)}  ${name.slice(0, 40).padEnd(40)} ${pkg.padEnd(28)} ${where}`);
  }
  if (inclusive) {
    // Total time of matching functions: each sample counts once per function on its stack.
    const totals = new Map();
    for (const [id, us] of selfUs) {
      const seen = new Set();
      for (let at = id; at !== undefined; at = parent.get(at)) {
        const { callFrame } = nodes.get(at);
        if (!inclusive.test(callFrame.functionName)) continue;
        const key = `${callFrame.functionName}\t${shortFile(callFrame.url)}:${callFrame.lineNumber + 1}`;
        if (seen.has(key)) continue;
        seen.add(key);
        totals.set(key, (totals.get(key) ?? 0) + us);
      }
    }
    console.log(`-- total time (callees included) of functions matching ${inclusive}`);
    for (const [key, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      const [name, where] = key.split('\t');
      console.log(`${pct(us)}  ${name.slice(0, 40).padEnd(40)} ${where}`);
    }
  }
  console.log('-- packages by self time');
  for (const [pkg, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${pct(us)}  ${pkg}`);
  }
}

if (positionals.length === 0) {
  console.error('usage: node bench/cpu-profile-summary.mjs [--skip-seconds 30] [--top 25] DIR-or-FILE...');
  process.exit(1);
}
for (const target of positionals) {
  const files = statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((name) => name.endsWith('.cpuprofile'))
        .sort()
        .map((name) => join(target, name))
    : [target];
  for (const file of files) summarise(file);
}
