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
}

export class Pipeline {
  readonly apiKey = `e2e-key-${randomBytes(12).toString('hex')}`;
  readonly brokers = kafkaBrokers();
  readonly prefix: string;
  readonly services: ServiceProcess[] = [];
  tap!: TopicTap;
  producer!: Producer;
  /** The auditor's database. */
  db!: Client;
  auditorUrl = '';
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
    this.db = new Client({ connectionString: url.toString() });
    await this.db.connect();
    const auditorPort = await freePort();
    this.auditorUrl = `http://127.0.0.1:${auditorPort}`;
    const env = {
      LLMBUS_MODE: 'distributed',
      KAFKA_BROKERS: this.brokers.join(','),
      LLMBUS_TOPIC_PREFIX: this.prefix,
      KAFKA_SESSION_TIMEOUT_MS: '15000',
      LLMBUS_RETRY_DELAY_MS: '50',
      API_KEYS: `${this.apiKey}:${this.options.tenant}:admin`,
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
      ['router', await freePort()],
    ];
    for (const [name, port] of ports) {
      this.services.push(
        await startService(name, {
          ...env,
          HTTP_PORT: String(port),
          KAFKA_CLIENT_ID: `${this.prefix}${name}`,
        }),
      );
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
