// The whole platform as five service processes on the test broker and PostgreSQL, in a namespace
// (topic prefix, consumer groups, database) of its own, driven the way an upstream system drives
// it: plain kafkajs producers with CloudEvents headers. Used by the e2e tests.
import { randomBytes, randomUUID } from 'node:crypto';
import { TOPICS } from '@llmbus/contracts';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { Client } from 'pg';
import { databaseUrl, kafkaBrokers, uniquePrefix } from './env';
import { ensureTopics } from './kafka-topics';
import { freePort, ServiceProcess, startService, stopService } from './service-processes';
import { TopicTap } from './topic-tap';

/** CloudEvents binary-mode headers as an upstream producer writes them; `tenant: null` omits the tenant. */
export function ceHeaders(
  type: string,
  correlationId: string,
  tenant: string | null,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ce_id: randomUUID(),
    ce_source: '/upstream/e2e',
    ce_type: type,
    ce_specversion: '1.0',
    ce_time: new Date().toISOString(),
    ce_correlationid: correlationId,
    ce_schemaversion: '1',
  };
  if (tenant !== null) headers['ce_tenantid'] = tenant;
  return headers;
}

export interface PipelineOptions {
  /** Tenant of the admin API key the HTTP surfaces accept. */
  readonly tenant: string;
  /** Logical topics the tap reads from the beginning. */
  readonly tapTopics: readonly string[];
  /** Extra environment for every service. */
  readonly env?: Record<string, string>;
  /** Extra environment for one service, by name (applied after `env`). */
  readonly serviceEnv?: Readonly<Record<string, Record<string, string>>>;
  /** How long each service may take to start (it loads its models first). Default 90 000 ms. */
  readonly startTimeoutMs?: number;
}

export class Pipeline {
  readonly apiKey = `e2e-key-${randomBytes(12).toString('hex')}`;
  /**
   * A second principal of the tenant, named `e2e-reviewer`, with the reviewer and reader roles: a
   * tool call must be approved by someone other than the principal that submitted the request.
   */
  readonly reviewerKey = `e2e-rev-${randomBytes(12).toString('hex')}`;
  readonly brokers = kafkaBrokers();
  readonly prefix: string;
  readonly services: ServiceProcess[] = [];
  tap!: TopicTap;
  producer!: Producer;
  /** The auditor's database. */
  db!: Client;
  /** URL of the auditor's database. */
  dbUrl = '';
  auditorUrl = '';
  routerUrl = '';
  /** Environment (HTTP port included) each service was started with, to start it again the same way. */
  private readonly launches = new Map<string, Record<string, string>>();
  private readonly dbName = `llmbus_e2e_${randomBytes(4).toString('hex')}`;

  constructor(
    name: string,
    private readonly options: PipelineOptions,
  ) {
    this.prefix = uniquePrefix(name);
  }

  /** Physical name of a logical topic in this pipeline's namespace. */
  topic(name: string): string {
    return this.prefix + name;
  }

  /** Creates the namespace, starts the five services one at a time (each loads its models), the tap and a producer. */
  async start(): Promise<void> {
    await ensureTopics(
      this.brokers,
      TOPICS.map((t) => ({ ...t, name: this.topic(t.name) })),
    );
    const admin = new Client({ connectionString: databaseUrl() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${this.dbName}`);
    await admin.end();
    const url = new URL(databaseUrl());
    url.pathname = `/${this.dbName}`;
    this.dbUrl = url.toString();
    this.db = new Client({ connectionString: this.dbUrl });
    // A restart of PostgreSQL (fault tests) ends the connection; without a listener that is a crash.
    this.db.on('error', () => undefined);
    await this.db.connect();
    const auditorPort = await freePort();
    const routerPort = await freePort();
    this.auditorUrl = `http://127.0.0.1:${auditorPort}`;
    this.routerUrl = `http://127.0.0.1:${routerPort}`;
    const env = {
      LLMBUS_MODE: 'distributed',
      KAFKA_BROKERS: this.brokers.join(','),
      LLMBUS_TOPIC_PREFIX: this.prefix,
      KAFKA_SESSION_TIMEOUT_MS: '15000',
      LLMBUS_RETRY_DELAY_MS: '50',
      API_KEYS: `${this.apiKey}:${this.options.tenant}:admin,${this.reviewerKey}:${this.options.tenant}:reviewer+reader::e2e-reviewer`,
      DATABASE_URL: url.toString(),
      LLMBUS_DATA_DIR: '',
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
      // Seals PII placeholder mappings (generator → validator, audit trail); one per pipeline.
      LLMBUS_PII_KEY: randomBytes(32).toString('base64'),
      ...this.options.env,
    };
    const ports: [string, number][] = [
      ['auditor', auditorPort],
      ['retriever', 0],
      ['generator', 0],
      ['validator', 0],
      ['router', routerPort],
    ];
    for (const [name, port] of ports) {
      const launch = {
        ...env,
        HTTP_PORT: String(port),
        KAFKA_CLIENT_ID: `${this.prefix}${name}`,
        ...this.options.serviceEnv?.[name],
      };
      this.launches.set(name, launch);
      this.services.push(await startService(name, launch, this.options.startTimeoutMs));
    }
    this.tap = new TopicTap(
      this.brokers,
      this.options.tapTopics.map((t) => this.topic(t)),
      `${this.prefix}tap`,
    );
    await this.tap.start();
    this.producer = new Kafka({
      brokers: this.brokers,
      clientId: `${this.prefix}upstream`,
      logLevel: logLevel.NOTHING,
    }).producer({
      idempotent: true,
    });
    await this.producer.connect();
  }

  /** Produces one raw message to a logical topic and waits for the broker's acknowledgement. */
  async send(
    topicName: string,
    key: string | null,
    headers: Record<string, string>,
    value: string,
  ): Promise<void> {
    await this.producer.send({ topic: this.topic(topicName), acks: -1, messages: [{ key, headers, value }] });
  }

  /**
   * A request's audit trail in recorded order (`event_time`, `seq`), read once the auditor has
   * stored an event of type `until` for it: the auditor records asynchronously, so a test that saw
   * an event on the bus polls here (every 200 ms) instead of reading the table at once.
   * @throws Error naming the request and the type when `timeoutMs` passes first.
   */
  async trail<Row extends { type: string } = { type: string; payload: Record<string, unknown> }>(
    tenant: string,
    requestId: string,
    until: string,
    timeoutMs = 60_000,
  ): Promise<Row[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await this.db.query<Row>(
        'SELECT type, payload FROM audit_events WHERE tenant_id = $1 AND correlation_id = $2 ORDER BY event_time, seq',
        [tenant, requestId],
      );
      if (rows.some((r) => r.type === until)) return rows;
      if (Date.now() > deadline) {
        throw new Error(
          `the auditor did not record ${until} for ${requestId} within ${timeoutMs} ms; it has: ${rows.map((r) => r.type).join(', ')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The environment a service was started with (a copy), e.g. to start another replica. */
  launchEnv(name: string): Record<string, string> {
    const launch = this.launches.get(name);
    if (!launch) throw new Error(`no service "${name}" in this pipeline`);
    return { ...launch };
  }

  /** Stops a service's process with `signal` (SIGKILL: no clean shutdown, as in a crash) and waits for its exit. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const service = this.services.find((s) => s.name === name);
    if (!service) throw new Error(`no service "${name}" in this pipeline`);
    const { child } = service;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** The running process of a service. */
  service(name: string): ServiceProcess {
    const service = this.services.find((s) => s.name === name);
    if (!service)
      throw new Error(`no service ${name}; services: ${this.services.map((s) => s.name).join(', ')}`);
    return service;
  }

  /**
   * Starts a service again with the environment it first had (same ports), replacing the old
   * process, which must have exited (the caller killed it); resolves once it has started.
   */
  async restartService(name: string): Promise<ServiceProcess> {
    const old = this.service(name);
    if (old.child.exitCode === null && old.child.signalCode === null) {
      throw new Error(`${name} (pid ${old.child.pid}) is still running; stop it before restarting it`);
    }
    const restarted = await startService(name, this.launchEnv(name));
    this.services[this.services.indexOf(old)] = restarted;
    return restarted;
  }

  /** Prints every service's recent output (call when a test failed). */
  dumpOutput(): void {
    for (const s of this.services) process.stderr.write(`--- ${s.name} ---\n${s.output().slice(-3000)}\n`);
  }

  /** Stops everything and removes the namespace. */
  async stop(): Promise<void> {
    await this.tap?.stop();
    await this.producer?.disconnect();
    for (const service of [...this.services].reverse()) await stopService(service);
    await this.db?.end();
    const admin = new Client({ connectionString: databaseUrl() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${this.dbName} WITH (FORCE)`);
    await admin.end();
    const kafkaAdmin = new Kafka({ brokers: this.brokers, logLevel: logLevel.NOTHING }).admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.deleteTopics({ topics: TOPICS.map((t) => this.topic(t.name)) }).catch(() => undefined);
    await kafkaAdmin.disconnect();
  }
}

/** Dumps service output after a failed test (use in afterEach). */
export function dumpOutputOnFailure(pipeline: Pipeline): void {
  const state = expect.getState();
  if (state.assertionCalls > 0 && state.numPassingAsserts < state.assertionCalls) pipeline.dumpOutput();
}
