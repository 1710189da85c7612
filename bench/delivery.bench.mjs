#!/usr/bin/env node
// Throughput cost of exactly-once delivery: one stage (a router-like relay: one output per input)
// on a real Kafka broker, first at-least-once (idempotent producer + commit after produce), then
// exactly-once (a Kafka transaction per message carrying its outputs and offset), same inputs,
// same run. Prints messages/s and the ratio; never asserts on time. Needs KAFKA_BROKERS (e.g.
// `eval "$(infra/up.sh --env)"`) and the compiled libs (`npm run bench:delivery` builds them).
//   node bench/delivery.bench.mjs [--messages 1000] [--rounds 2]
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const { EventBus, KafkaTransport, outgoing } = require('../libs/bus/dist/index.js');
const { RequestRoutedEvent, RequestSubmittedEvent, TOPICS } = require('../contracts/dist/index.js');
const { Kafka, logLevel } = require('kafkajs');
const pino = require('pino');

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '2' } },
});
const messages = Math.max(10, Math.min(20_000, Number(values.messages) || 1000));
const rounds = Math.max(1, Math.min(5, Number(values.rounds) || 2));
const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) {
  console.error('bench:delivery needs KAFKA_BROKERS (eval "$(infra/up.sh --env)")');
  process.exit(1);
}
const logger = pino({ level: 'error' });
const DEADLINE_MS = 240_000;
const started = Date.now();

/** One relay run: `messages` inputs through one stage in `delivery` mode; resolves with msgs/s. */
async function run(delivery, round) {
  const prefix = `bench-${delivery}-${round}-${process.pid}.`;
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const names = TOPICS.map((t) => t.name).filter((n) => /request\.v1|routed\.v1|dead-letter\.router/.test(n));
  await admin.createTopics({
    waitForLeaders: true,
    topics: names.map((n) => ({
      topic: prefix + n,
      numPartitions: TOPICS.find((t) => t.name === n).partitions,
    })),
  });
  const bus = new EventBus(
    new KafkaTransport({
      brokers,
      clientId: 'bench-delivery',
      logger,
      sessionTimeoutMs: 10_000,
      delivery,
      concurrency: 6,
    }),
    { logger, topicPrefix: prefix, retryTopicDelaysMs: [] },
  );
  let seen = 0;
  const out = kafka.consumer({ groupId: `${prefix}out` });
  await out.connect();
  await out.subscribe({ topic: prefix + 'orchestration.routed.v1', fromBeginning: true });
  await out.run({ eachBatch: async ({ batch }) => void (seen += batch.messages.length) });
  const inputs = Array.from({ length: messages }, (_, i) =>
    outgoing(
      RequestSubmittedEvent,
      {
        requestId: `r-${i}`,
        eventType: 'ticket.created',
        input: { subject: `s${i}` },
        requester: { groups: [] },
      },
      { tenantId: 'bench' },
    ),
  );
  for (let i = 0; i < inputs.length; i += 500) await bus.publish(inputs.slice(i, i + 500));
  const t0 = performance.now();
  await bus.subscribe({
    stage: 'router',
    notifyRequester: true,
    handlers: {
      [RequestSubmittedEvent.type]: async (e) => [
        outgoing(RequestRoutedEvent, {
          requestId: e.data.requestId,
          context: {
            workflow: { id: 'support-ticket', version: 1 },
            requester: e.data.requester,
            modelTier: 'small',
            budget: { maxOutputTokens: 10, maxCostUsd: 0 },
          },
          input: e.data.input,
          retrieval: { collections: [], topK: 0, query: '' },
        }),
      ],
    },
  });
  while (seen < messages) {
    if (Date.now() - started > DEADLINE_MS) throw new Error(`bench deadline: ${seen}/${messages} relayed`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  await out.disconnect();
  await bus.close();
  await admin.deleteTopics({ topics: names.map((n) => prefix + n) }).catch(() => undefined);
  await admin.disconnect();
  return messages / seconds;
}

const results = { 'at-least-once': [], 'exactly-once': [] };
for (let round = 1; round <= rounds; round++) {
  for (const delivery of Object.keys(results)) results[delivery].push(await run(delivery, round));
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const alo = median(results['at-least-once']);
const eos = median(results['exactly-once']);
console.log(
  `delivery bench: ${messages} messages through one stage (${TOPICS.find((t) => t.name === 'orchestration.request.v1').partitions} partitions), ${rounds} round(s), median msgs/s`,
);
console.log(
  `  at-least-once  ${alo.toFixed(0).padStart(6)} msgs/s  (${results['at-least-once'].map((v) => v.toFixed(0)).join(', ')})`,
);
console.log(
  `  exactly-once   ${eos.toFixed(0).padStart(6)} msgs/s  (${results['exactly-once'].map((v) => v.toFixed(0)).join(', ')})`,
);
console.log(`  exactly-once / at-least-once = ${(eos / alo).toFixed(2)}`);
process.exit(0);
