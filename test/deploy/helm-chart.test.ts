// The Helm chart in deploy/helm/llmbus, rendered by a real helm: schema validation through
// scripts/validate-k8s.mjs (what `npm run validate:k8s` and CI run), shown to fail on a broken
// template and on schema violations, and the rendered objects checked against the code they
// deploy: the consumer groups and topics KEDA watches, probes, ports, secrets, grace periods.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { topicsFor, type StageHandlers } from '@llmbus/bus';
import { isRetryTopic, isStreamTopic, STAGES, TOPICS, type Stage } from '@llmbus/contracts';
import { parseRetentionPolicy } from '@llmbus/audit';
import { parseModelsConfig } from '@llmbus/models';
import type { Type } from '@nestjs/common';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import { parseAllDocuments } from 'yaml';
import { AuditRecorderController } from '../../services/auditor/src/audit-recorder.controller';
import { GeneratorEventsController } from '../../services/generator/src/generator.events';
import { RetrieverEventsController } from '../../services/retriever/src/retriever.events';
import { RouterEventsController } from '../../services/router/src/router.events';
import { ValidatorEventsController } from '../../services/validator/src/validator.events';

const ROOT = join(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'validate-k8s.mjs');
const CHART = join(ROOT, 'deploy', 'helm', 'llmbus');
const PRODUCTION_VALUES = join(CHART, 'ci', 'production-values.yaml');
const WITHOUT_KEDA_VALUES = join(CHART, 'ci', 'without-keda-values.yaml');

interface Tools {
  helm: string;
  kubeVersions: string[];
  missing: string[];
}

const tools = JSON.parse(
  spawnSync(process.execPath, [SCRIPT, '--tools'], { encoding: 'utf8' }).stdout,
) as Tools;
const toolsReady = tools.missing.length === 0;
// CI fetches the tools in .ci/run's "k8s tools" phase; elsewhere a missing helm skips (and says so).
const describeWithTools = toolsReady ? describe : describe.skip;
if (!toolsReady && !process.env.CI) {
  console.warn(
    `helm chart tests skipped: ${tools.missing.join('; ')}. Run: node scripts/validate-k8s.mjs --install-only`,
  );
}

interface Container {
  name: string;
  ports: { name: string; containerPort: number }[];
  envFrom: { configMapRef: { name: string } }[];
  env?: { name: string; valueFrom: { secretKeyRef: { name: string; key: string; optional?: boolean } } }[];
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  startupProbe: { httpGet: { path: string; port: string } };
  securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
}

interface KafkaTrigger {
  type: string;
  metadata: Record<string, string>;
  authenticationRef?: { name: string };
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: {
    replicas?: number;
    minReplicaCount?: number;
    maxReplicaCount?: number;
    scaleTargetRef?: { name: string };
    triggers?: KafkaTrigger[];
    template?: {
      metadata: { annotations?: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        securityContext: { runAsNonRoot: boolean };
        containers: Container[];
      };
    };
  };
}

function render(valuesFiles: string[] = []): K8sObject[] {
  const args = ['template', 'llmbus', CHART, '--namespace', 'llmbus'];
  for (const file of valuesFiles) args.push('--values', file);
  const result = spawnSync(tools.helm, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

/** Runs scripts/validate-k8s.mjs as CI does, without fetching anything. */
function validate(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [SCRIPT, '--no-install', ...args], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const copies: string[] = [];
/** A copy of the chart with one file edited: a template or values mistake to be caught. */
function chartWith(file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmbus-chart-'));
  copies.push(dir);
  cpSync(CHART, dir, { recursive: true });
  const path = join(dir, file);
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error(`the edit of ${file} changed nothing: update this test`);
  writeFileSync(path, after);
  return dir;
}

afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** The topics a stage's Nest handlers consume, as the bus subscribes to them. */
function consumedTopics(controller: Type): string[] {
  const handlers: Record<string, () => Promise<[]>> = {};
  const prototype = controller.prototype as Record<string, unknown>;
  for (const method of Object.getOwnPropertyNames(prototype)) {
    const patterns = Reflect.getMetadata(PATTERN_METADATA, prototype[method] as object) as
      string[] | undefined;
    for (const pattern of patterns ?? []) handlers[pattern] = () => Promise.resolve([]);
  }
  return topicsFor(handlers as unknown as StageHandlers).sort();
}

const CONTROLLERS: Record<Stage, Type> = {
  router: RouterEventsController,
  retriever: RetrieverEventsController,
  generator: GeneratorEventsController,
  validator: ValidatorEventsController,
  auditor: AuditRecorderController,
};

const SECRET_VARIABLES = [
  'API_KEYS',
  'DATABASE_URL',
  'OPENAI_API_KEY',
  'QDRANT_API_KEY',
  'LLMBUS_PII_KEY',
  'REDIS_URL',
];

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found)
    throw new Error(
      `no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
    );
  return found;
}

function container(objects: K8sObject[], stage: Stage): Container {
  return find(objects, 'Deployment', `llmbus-${stage}`).spec!.template!.spec.containers[0];
}

describe('k8s validation tools', () => {
  (process.env.CI ? it : it.skip)('are in the cache (.ci/run fetches them before npm test)', () => {
    expect(tools.missing).toEqual([]);
  });
});

describeWithTools('helm chart deploy/helm/llmbus', () => {
  const defaults = toolsReady ? render() : [];
  const production = toolsReady ? render([PRODUCTION_VALUES]) : [];

  describe('schema validation (scripts/validate-k8s.mjs)', () => {
    it('lints, and every object rendered with default and ci/ values is valid for each Kubernetes version', () => {
      const { status, output } = validate([]);

      expect(output).not.toContain('FAIL');
      expect(status).toBe(0);
      for (const label of ['default values', 'production-values.yaml', 'without-keda-values.yaml']) {
        expect(output).toMatch(new RegExp(`^ok .*${label.replace('.', '\\.')}`, 'm'));
      }
    });

    it('fails on a template that does not render', () => {
      const chart = chartWith('templates/service.yaml', (text) =>
        text.replace('port: {{ $values.service.port }}', 'port: {{ $values.service.prot.number }}'),
      );

      const { status, output } = validate(['--chart', chart, '--values', join(chart, 'values.yaml')]);

      expect(status).toBe(1);
      expect(output).toContain('helm template failed');
      expect(output).toMatch(/nil pointer evaluating interface \{\}\.number/);
    });

    it('fails on a field Kubernetes does not know (strict, as kubectl and the API server are)', () => {
      const chart = chartWith('templates/deployment.yaml', (text) =>
        text.replace('readinessProbe:', 'readinesProbe:'),
      );

      const { status, output } = validate(['--chart', chart, '--values', join(chart, 'values.yaml')]);

      expect(status).toBe(1);
      expect(output).toMatch(
        /Deployment\/llmbus-router is invalid:\n\s+\/spec\/template\/spec\/containers\/0: unknown field "readinesProbe"/,
      );
    });

    it('fails on a KEDA trigger whose metadata is not a string, as the ScaledObject CRD requires', () => {
      const chart = chartWith('templates/scaledobject.yaml', (text) =>
        text.replace(
          'lagThreshold: {{ $scaling.lagThreshold | quote }}',
          'lagThreshold: {{ $scaling.lagThreshold }}',
        ),
      );

      const { status, output } = validate(['--chart', chart, '--values', join(chart, 'values.yaml')]);

      expect(status).toBe(1);
      expect(output).toMatch(
        /ScaledObject\/llmbus-generator is invalid:\n\s+\/spec\/triggers\/0\/metadata\/lagThreshold: must be string/,
      );
    });

    it('fails on values the chart schema refuses, naming the value', () => {
      const values = join(mkdtempSync(join(tmpdir(), 'llmbus-values-')), 'values.yaml');
      copies.push(join(values, '..'));
      writeFileSync(values, 'router:\n  autoscaling:\n    minReplicaCount: 0\n');

      const { status, output } = validate(['--values', values]);

      expect(status).toBe(1);
      expect(output).toMatch(/router\/autoscaling\/minReplicaCount/);
    });
  });

  describe('KEDA scaling on consumer lag', () => {
    it.each(STAGES)('scales the %s on the topics its handlers consume, in its consumer group', (stage) => {
      const scaled = find(defaults, 'ScaledObject', `llmbus-${stage}`);
      const triggers = scaled.spec!.triggers!;
      const consumed = consumedTopics(CONTROLLERS[stage]);

      expect(scaled.spec!.scaleTargetRef!.name).toBe(`llmbus-${stage}`);
      expect(triggers.every((t) => t.type === 'kafka')).toBe(true);
      expect(new Set(triggers.map((t) => t.metadata.consumerGroup))).toEqual(new Set([`llmbus.${stage}`]));
      // Retry topics hold records that wait for their due time, not work to scale out for (during a
      // model outage more replicas would not help), so no trigger watches them.
      // Nor stream topics: transient drafts no stage consumes as work (the auditor skips them).
      if (consumed.length === TOPICS.filter((t) => !isRetryTopic(t.name) && !isStreamTopic(t.name)).length) {
        // Every topic: one trigger without "topic", KEDA sums the lag of all the group's topics.
        expect(triggers).toHaveLength(1);
        expect(triggers[0].metadata.topic).toBeUndefined();
      } else {
        expect(triggers.map((t) => t.metadata.topic).sort()).toEqual(consumed);
      }
    });

    it.each(STAGES)(
      'caps the %s at the partitions of its topics and starts lag from the earliest offset',
      (stage) => {
        const scaled = find(defaults, 'ScaledObject', `llmbus-${stage}`);
        const partitions = Math.min(
          ...TOPICS.filter((t) => consumedTopics(CONTROLLERS[stage]).includes(t.name)).map(
            (t) => t.partitions,
          ),
        );

        if (stage !== 'auditor') expect(scaled.spec!.maxReplicaCount).toBe(partitions);
        for (const trigger of scaled.spec!.triggers!) {
          // The services subscribe from the beginning, so a partition without an offset is all lag.
          expect(trigger.metadata.offsetResetPolicy).toBe('earliest');
          expect(trigger.metadata.allowIdleConsumers).toBe('false');
        }
      },
    );

    it('keeps router and auditor, which serve HTTP, at one replica or more', () => {
      for (const stage of ['router', 'auditor']) {
        expect(
          find(defaults, 'ScaledObject', `llmbus-${stage}`).spec!.minReplicaCount,
        ).toBeGreaterThanOrEqual(1);
      }
    });

    it('prefixes groups and topics with kafka.topicPrefix and authenticates KEDA when asked', () => {
      const triggers = find(production, 'ScaledObject', 'llmbus-generator').spec!.triggers!;

      expect(triggers.map((t) => t.metadata.topic).sort()).toEqual(
        consumedTopics(GeneratorEventsController).map((topic) => `prod.${topic}`),
      );
      expect(triggers[0].metadata.consumerGroup).toBe('prod.llmbus.generator');
      expect(triggers[0].authenticationRef).toEqual({ name: 'llmbus-kafka' });
      expect(find(production, 'TriggerAuthentication', 'llmbus-kafka')).toBeDefined();
    });

    it('leaves replicas to KEDA, and sets them itself when KEDA is off', () => {
      const withoutKeda = render([WITHOUT_KEDA_VALUES]);

      expect(find(defaults, 'Deployment', 'llmbus-generator').spec!.replicas).toBeUndefined();
      expect(withoutKeda.filter((o) => o.kind === 'ScaledObject')).toEqual([]);
      expect(find(withoutKeda, 'Deployment', 'llmbus-router').spec!.replicas).toBe(3);
    });
  });

  describe('pods', () => {
    it.each(STAGES)('probes the %s on /healthz at the port that serves it', (stage) => {
      const c = container(defaults, stage);
      const env = find(defaults, 'ConfigMap', `llmbus-${stage}`).data!;
      const portName = env.HTTP_PORT ? 'http' : 'metrics';
      const port = c.ports.find((p) => p.name === portName);

      expect(String(port?.containerPort)).toBe(env.HTTP_PORT ?? env.METRICS_PORT);
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        expect(probe.httpGet).toEqual({ path: '/healthz', port: portName });
      }
    });

    it.each(STAGES)('gives the %s its secrets by Secret reference only, never in its ConfigMap', (stage) => {
      const c = container(production, stage);
      const configMap = find(production, 'ConfigMap', `llmbus-${stage}`).data!;

      expect(Object.keys(configMap).filter((name) => SECRET_VARIABLES.includes(name))).toEqual([]);
      expect(c.env!.map((e) => e.name)).toContain('API_KEYS');
      for (const variable of c.env!) {
        expect(SECRET_VARIABLES).toContain(variable.name);
        expect(variable.valueFrom.secretKeyRef.name).toBe('llmbus-prod');
      }
      expect(c.envFrom).toEqual([{ configMapRef: { name: `llmbus-${stage}` } }]);
    });

    it('requires LLMBUS_PII_KEY of the generator of an OpenAI-compatible provider only (it masks prompts for it)', () => {
      const piiKey = (objects: K8sObject[], stage: Stage) =>
        container(objects, stage).env!.find((e) => e.name === 'LLMBUS_PII_KEY')?.valueFrom.secretKeyRef;
      expect(piiKey(production, 'generator')).toEqual({ name: 'llmbus-prod', key: 'LLMBUS_PII_KEY' });
      expect(piiKey(defaults, 'generator')?.optional).toBe(true);
      for (const stage of ['router', 'validator', 'auditor'] as const)
        expect(piiKey(production, stage)?.optional).toBe(true);
      expect(piiKey(production, 'retriever')).toBeUndefined();
    });

    it('gives the generator and the retriever REDIS_URL from the Secret, required unless redis.required is false', () => {
      const redisUrl = (objects: K8sObject[], stage: Stage) =>
        container(objects, stage).env!.find((e) => e.name === 'REDIS_URL')?.valueFrom.secretKeyRef;
      // Replicas share rate limits, caches and tool-call claims through it: a pod without it must not start.
      for (const stage of ['generator', 'retriever'] as const) {
        expect(redisUrl(defaults, stage)).toEqual({ name: 'llmbus', key: 'REDIS_URL' });
        expect(redisUrl(production, stage)).toEqual({ name: 'llmbus-prod', key: 'REDIS_URL' });
      }
      for (const stage of ['router', 'validator', 'auditor'] as const)
        expect(redisUrl(defaults, stage)).toBeUndefined();
      const values = join(mkdtempSync(join(tmpdir(), 'llmbus-values-')), 'trial.yaml');
      copies.push(dirname(values));
      writeFileSync(values, 'redis:\n  required: false\n');
      const trial = render([values]);
      for (const stage of ['generator', 'retriever'] as const)
        expect(redisUrl(trial, stage)).toEqual({ name: 'llmbus', key: 'REDIS_URL', optional: true });
    });

    it('refuses a secret given as a plain env value', () => {
      const chart = chartWith('values.yaml', (text) =>
        text.replace('  LOG_LEVEL: info', '  LOG_LEVEL: info\n  OPENAI_API_KEY: sk-not-here'),
      );
      const result = spawnSync(tools.helm, ['template', 'llmbus', chart], { encoding: 'utf8' });

      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(
        'OPENAI_API_KEY is a secret: put it in the Secret named by secret.name',
      );
    });

    it.each(STAGES)('runs the %s as non-root on a read-only root filesystem', (stage) => {
      const deployment = find(defaults, 'Deployment', `llmbus-${stage}`);
      const c = container(defaults, stage);

      expect(deployment.spec!.template!.spec.securityContext.runAsNonRoot).toBe(true);
      expect(c.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
    });

    it('gives the generator time to finish one model call after SIGTERM', () => {
      const models = parseModelsConfig({ LLMBUS_MODEL_PROVIDER: 'openai', OPENAI_API_KEY: 'x' });
      const openaiCallMs = models.openai!.timeoutMs * (1 + models.openai!.maxRetries);
      const grace = find(defaults, 'Deployment', 'llmbus-generator').spec!.template!.spec
        .terminationGracePeriodSeconds;

      expect(grace * 1000).toBeGreaterThan(Math.max(models.local.timeoutMs, openaiCallMs));
    });

    it.each(STAGES)(
      'lets the %s abort in-flight work and close before Kubernetes kills it (LLMBUS_SHUTDOWN_GRACE_MS)',
      (stage) => {
        const spec = find(defaults, 'Deployment', `llmbus-${stage}`).spec!.template!.spec;
        const graceMs = Number(find(defaults, 'ConfigMap', `llmbus-${stage}`).data!.LLMBUS_SHUTDOWN_GRACE_MS);
        const preStopSeconds = stage === 'router' || stage === 'auditor' ? 5 : 0;
        // After the grace period the process aborts the work and exits within 5 s at the latest.
        const afterAbortMs = 5_000;

        expect(graceMs).toBeGreaterThan(0);
        expect(preStopSeconds * 1000 + graceMs + afterAbortMs).toBeLessThan(
          spec.terminationGracePeriodSeconds * 1000,
        );
      },
    );

    it('names only variables the README documents in the ConfigMaps', () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const names = new Set(
        [...defaults, ...production]
          // The stages' environments (the retention ConfigMap holds a policy file, not variables).
          .filter(
            (o) =>
              o.kind === 'ConfigMap' && o.metadata.labels?.['app.kubernetes.io/component'] !== 'retention',
          )
          .flatMap((o) => Object.keys(o.data ?? {})),
      );

      expect([...names].filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
    });

    it('serves router and auditor through Services, and metrics on every pod', () => {
      const services = defaults.filter((o) => o.kind === 'Service').map((o) => o.metadata.name);

      expect(services.sort()).toEqual(['llmbus-auditor', 'llmbus-router']);
      for (const stage of STAGES) {
        const annotations = find(defaults, 'Deployment', `llmbus-${stage}`).spec!.template!.metadata
          .annotations!;
        const c = container(defaults, stage);

        expect(annotations['prometheus.io/scrape']).toBe('true');
        expect(c.ports.map((p) => String(p.containerPort))).toContain(annotations['prometheus.io/port']);
      }
      expect(find(production, 'PodMonitor', 'llmbus')).toBeDefined();
    });
  });

  describe('audit retention CronJob', () => {
    interface RetentionCronJob {
      spec: {
        schedule: string;
        timeZone?: string;
        suspend: boolean;
        concurrencyPolicy: string;
        jobTemplate: {
          spec: {
            template: {
              spec: {
                restartPolicy: string;
                containers: (Container & {
                  image: string;
                  command: string[];
                  args?: string[];
                  volumeMounts?: { name: string; mountPath: string }[];
                })[];
                volumes?: { name: string; configMap: { name: string } }[];
              };
            };
          };
        };
      };
    }
    const cronJob = (objects: K8sObject[]) =>
      find(objects, 'CronJob', 'llmbus-retention') as unknown as RetentionCronJob;
    const podOf = (objects: K8sObject[]) => cronJob(objects).spec.jobTemplate.spec.template.spec;

    it('runs `orchestrate audit retain` daily by default, in the auditor image, with the auditor database', () => {
      const job = cronJob(defaults);
      const [c] = podOf(defaults).containers;
      const auditor = find(defaults, 'Deployment', 'llmbus-auditor').spec!.template!.spec
        .containers[0] as Container & {
        image: string;
      };
      const orchestrate = readFileSync(join(ROOT, 'scripts', 'orchestrate.mjs'), 'utf8');

      expect(job.spec.schedule).toMatch(/^\d+ \d+ \* \* \*$/);
      expect(job.spec).toMatchObject({ suspend: false, concurrencyPolicy: 'Forbid' });
      expect(c.command).toEqual(['node', 'scripts/orchestrate.mjs', 'audit', 'retain']);
      expect(orchestrate).toContain(".command('retain')");
      expect(c.args).toBeUndefined();
      expect(c.image).toBe(auditor.image);
      expect(c.env).toEqual([
        { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'llmbus', key: 'DATABASE_URL' } } },
      ]);
      expect(c.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
    });

    it('takes its schedule, time zone and a policy the audit library accepts from values', () => {
      const job = cronJob(production);
      const pod = podOf(production);
      const [c] = pod.containers;
      const policyMap = find(production, 'ConfigMap', 'llmbus-retention');
      const mount = c.volumeMounts!.find((m) => m.name === 'policy')!;

      expect(job.spec).toMatchObject({ schedule: '30 2 * * *', timeZone: 'Europe/Berlin' });
      expect(c.args).toEqual(['--policy', `${mount.mountPath}/policy.json`]);
      expect(pod.volumes).toEqual([{ name: 'policy', configMap: { name: 'llmbus-retention' } }]);
      expect(parseRetentionPolicy(JSON.parse(policyMap.data!['policy.json']))).toMatchObject({
        default: { prompts: 30, operations: null },
        tenants: { acme: { prompts: 7 } },
      });
    });

    it('is left out when retention.enabled is false', () => {
      const withoutKeda = render([WITHOUT_KEDA_VALUES]);

      expect(withoutKeda.filter((o) => o.kind === 'CronJob')).toEqual([]);
    });

    it('refuses an unknown event class or a schedule that is not cron', () => {
      const dir = mkdtempSync(join(tmpdir(), 'llmbus-values-'));
      copies.push(dir);
      const values = join(dir, 'values.yaml');
      writeFileSync(values, 'retention:\n  policy:\n    default: { prompt: 30 }\n');
      const unknownClass = validate(['--values', values]);
      writeFileSync(values, "retention:\n  schedule: 'daily'\n");
      const badSchedule = validate(['--values', values]);

      expect(unknownClass.status).toBe(1);
      expect(unknownClass.output).toMatch(/retention\/policy\/default/);
      expect(badSchedule.status).toBe(1);
      expect(badSchedule.output).toMatch(/retention\/schedule/);
    });
  });
});
