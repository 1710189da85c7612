// docker-compose.yml cannot be started on our CI machines (no Docker engine), so its wiring is
// checked statically here: a renamed service folder, a typo in a variable or a port clash fails CI.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const STAGES = ['router', 'retriever', 'generator', 'validator', 'auditor'] as const;

/** Variables our images read, as documented in infra/README.md ("Environment of the containers"). */
const DOCUMENTED_ENV = [
  'KAFKA_BROKERS',
  'DATABASE_URL',
  'QDRANT_URL',
  'REDIS_URL',
  'LLMBUS_MODE',
  'HTTP_PORT',
  'API_KEYS',
  'OPENAI_API_KEY',
  'OPENAI_BASE_URL',
  'LOG_LEVEL',
  'LLMBUS_MODELS_DIR',
  'LLMBUS_PII_KEY',
];

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, unknown> | string[];
  depends_on?: Record<string, unknown> | string[];
  ports?: Array<string | { published?: string | number; host_ip?: string }>;
  healthcheck?: { test?: unknown };
}

// merge: compose files share blocks through YAML merge keys (<<: *anchor).
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;

function envNames(service: ComposeService): string[] {
  const env = service.environment ?? {};
  return Array.isArray(env) ? env.map((entry) => entry.split('=')[0]) : Object.keys(env);
}

function dependencies(service: ComposeService): string[] {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps) ? deps : Object.keys(deps);
}

/** "127.0.0.1:8080:8080" -> "127.0.0.1:8080"; "8080:80" -> "0.0.0.0:8080". */
function publishedAddress(port: string | { published?: string | number; host_ip?: string }): string {
  if (typeof port !== 'string') return `${port.host_ip ?? '0.0.0.0'}:${port.published}`;
  const parts = port.split('/')[0].split(':');
  return parts.length === 3 ? `${parts[0]}:${parts[1]}` : `0.0.0.0:${parts[0]}`;
}

describe('docker-compose.yml', () => {
  it.each(STAGES)(
    'builds %s from infra/docker/Dockerfile with SERVICE set to an existing services/ folder',
    (stage) => {
      const build = services[stage]?.build;

      expect(build).toMatchObject({
        context: '.',
        dockerfile: 'infra/docker/Dockerfile',
        args: { SERVICE: stage },
      });
      expect(existsSync(join(ROOT, 'services', stage, 'src', 'main.ts'))).toBe(true);
    },
  );

  it('runs the entry point named by the SERVICE build argument', () => {
    const dockerfile = readFileSync(join(ROOT, 'infra', 'docker', 'Dockerfile'), 'utf8');

    expect(dockerfile).toMatch(/^ARG SERVICE$/m);
    expect(dockerfile).toContain('node services/${SERVICE}/dist/main.js');
  });

  it.each(STAGES)('starts %s only after kafka', (stage) => {
    expect(dependencies(services[stage])).toContain('kafka');
  });

  it('gives our containers only documented environment variables, each described in infra/README.md', () => {
    const readme = readFileSync(join(ROOT, 'infra', 'README.md'), 'utf8');
    const ours = Object.values(services).filter((service) => service.build !== undefined);
    const used = [...new Set(ours.flatMap(envNames))];

    expect(used.filter((name) => !DOCUMENTED_ENV.includes(name))).toEqual([]);
    expect(DOCUMENTED_ENV.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });

  it('publishes each host port at most once', () => {
    const published = Object.values(services).flatMap((service) =>
      (service.ports ?? []).map(publishedAddress),
    );
    const hostPorts = published.map((address) => address.split(':').pop());

    expect(published.length).toBeGreaterThan(0);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it.each(['kafka', 'postgres'])('health-checks %s so that dependants wait for it to serve', (name) => {
    expect(services[name]?.healthcheck?.test).toBeDefined();
  });
});
