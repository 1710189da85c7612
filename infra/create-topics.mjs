#!/usr/bin/env node
// Creates the platform's topics, as declared by TOPICS in @llmbus/contracts, that do not exist yet.
// Our brokers run with auto.create.topics.enable=false, so something has to: docker-compose runs
// this once as the `topics` service; locally, after infra/up.sh and `npm run build`:
//   KAFKA_BROKERS=127.0.0.1:19092 node infra/create-topics.mjs
// Env: KAFKA_BROKERS (required), LLMBUS_TOPIC_PREFIX (optional namespace, as the services use it).
// Existing topics are left untouched, so re-running is safe.
import 'reflect-metadata'; // the contracts' payload classes carry decorator metadata
import contracts from '@llmbus/contracts';
import kafkajs from 'kafkajs';
import { createTopicsAndWait } from './kafka-topics.mjs';

const { TOPICS, topicName } = contracts;
const { Kafka, logLevel } = kafkajs;

const brokers = (process.env.KAFKA_BROKERS ?? '')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
if (brokers.length === 0) {
  console.error('KAFKA_BROKERS is not set: expected host:port[,host:port...]');
  process.exit(1);
}
const prefix = process.env.LLMBUS_TOPIC_PREFIX ?? '';

// Generous retries: in compose the broker may only just have passed its health check.
const admin = new Kafka({
  clientId: 'llmbus-create-topics',
  brokers,
  logLevel: logLevel.WARN,
  retry: { retries: 10 },
}).admin();
await admin.connect();
try {
  // Replication factor left to the broker's default.replication.factor (1 on a single node).
  const { created, fewerPartitions } = await createTopicsAndWait(
    admin,
    TOPICS.map((spec) => ({
      topic: topicName(spec, prefix),
      numPartitions: spec.partitions,
      configEntries: [
        { name: 'retention.ms', value: String(spec.retentionMs) },
        { name: 'cleanup.policy', value: spec.cleanupPolicy },
      ],
    })),
  );
  console.log(
    `topics: ${created.length} created, ${TOPICS.length - created.length} already present (prefix "${prefix}")`,
  );
  for (const { topic, has, wants } of fewerPartitions) {
    console.warn(
      `topics: ${topic} has ${has} partitions, this version declares ${wants}; left as is (adding partitions moves keys to other partitions: raise it with kafka-topics.sh --alter --partitions ${wants} while no request is in flight, see README "Distributed mode")`,
    );
  }
} finally {
  await admin.disconnect();
}
