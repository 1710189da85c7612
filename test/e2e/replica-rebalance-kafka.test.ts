// A second generator and a second validator joining their groups in the middle of a burst: the
// rebalance moves partitions (and their merged offset commits) between members while requests are
// in flight. Every request must end in one outcome, and the groups must reach the end of their
// topics (no member stuck on, or re-reading, a partition). Five service processes plus the two
// replicas on the test broker and PostgreSQL, an instant OpenAI-compatible model server.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestCompletedEvent, RequestFailedEvent, RequestSubmittedEvent, Topics } from '@llmbus/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { CHAOS_EMBEDDING_DIMENSION, ChaosModelServer } from '../chaos/support/chaos-model-server';
import { ticketPayload } from '../chaos/support/steady-load';
import { ceHeaders, Pipeline } from '../support/pipeline-harness';
import { startService, stopService, type ServiceProcess } from '../support/service-processes';
import { workflowsWithoutConfidence } from '../support/workflows-fixture';

jest.setTimeout(900_000);

const TENANT = 'e2e-rebalance';
const BURST = 60;
const OUTCOMES = [RequestCompletedEvent.type, RequestFailedEvent.type];

/** A registry with a free chat model and small embeddings, both served by ChaosModelServer. */
function writeRegistry(dir: string): string {
  const path = join(dir, 'models.registry.json');
  const entry = { provider: 'openai', pricePer1MInputUsd: 0, pricePer1MOutputUsd: 0, tier: 'small' };
  writeFileSync(
    path,
    JSON.stringify({
      models: [
        { ...entry, id: 'e2e/chat', model: 'e2e-chat', contextWindow: 4096, capabilities: ['chat', 'json'] },
        {
          ...entry,
          id: 'e2e/embed',
          model: 'e2e-embed',
          contextWindow: 8191,
          capabilities: ['embeddings'],
          embeddingDimension: CHAOS_EMBEDDING_DIMENSION,
        },
      ],
    }),
  );
  return path;
}

describe('replicas joining mid-burst on Kafka', () => {
  const model = new ChaosModelServer();
  let pipeline: Pipeline;
  const extra: ServiceProcess[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-rebalance-'));
    const baseUrl = await model.start();
    pipeline = new Pipeline('e2e-rebalance', {
      tenant: TENANT,
      tapTopics: [Topics.Result.name],
      env: {
        OPENAI_API_KEY: 'e2e-not-a-secret',
        OPENAI_BASE_URL: baseUrl,
        OPENAI_CHAT_MODEL: 'e2e/chat',
        OPENAI_EMBEDDING_MODEL: 'e2e/embed',
        LLMBUS_MODELS_REGISTRY: writeRegistry(dir),
        LLMBUS_WORKFLOWS_DIR: workflowsWithoutConfidence(dir),
      },
    });
    await pipeline.start();
  });

  afterAll(async () => {
    for (const service of extra) await stopService(service);
    await pipeline?.stop();
    await model.stop();
  });

  /** Produces `count` support tickets straight to the request topic, one message per send. */
  async function produce(ids: readonly string[]): Promise<void> {
    for (const requestId of ids) {
      await pipeline.producer.send({
        topic: pipeline.topic(Topics.Request.name),
        acks: -1,
        messages: [
          {
            key: requestId,
            headers: ceHeaders(RequestSubmittedEvent.type, requestId, TENANT),
            value: JSON.stringify(ticketPayload(requestId, 'complete')),
          },
        ],
      });
    }
  }

  it('ends every request once and leaves no lag', async () => {
    const ids = Array.from({ length: BURST }, (_, i) => `rebalance-${i}`);
    const first = produce(ids.slice(0, BURST / 2));
    // The replicas join while the first half is being handled.
    for (const stage of ['generator', 'validator']) {
      extra.push(
        await startService(stage, {
          ...pipeline.launchEnv(stage),
          KAFKA_CLIENT_ID: `${pipeline.prefix}${stage}-2`,
        }),
      );
    }
    await first;
    await produce(ids.slice(BURST / 2));
    for (const requestId of ids) {
      await pipeline.tap.waitFor(
        (m) => m.key === requestId && OUTCOMES.includes(m.headers['ce_type'] ?? ''),
        300_000,
        `outcome of ${requestId}`,
      );
    }
    // Both scaled groups reach the end of what it reads (a member stuck or re-reading would not).
    const kafka = new Kafka({ brokers: pipeline.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const lagOf = async (stage: string, topic: string): Promise<number> => {
        const physical = pipeline.topic(topic);
        const ends = await admin.fetchTopicOffsets(physical);
        const [committed] = await admin.fetchOffsets({
          groupId: `${pipeline.prefix}llmbus.${stage}`,
          topics: [physical],
        });
        return ends.reduce((sum, end) => {
          const at = committed.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
          return sum + Number(BigInt(end.offset) - (at === '-1' ? 0n : BigInt(at)));
        }, 0);
      };
      const deadline = Date.now() + 120_000;
      for (;;) {
        const lags = [
          await lagOf('generator', Topics.Retrieved.name),
          await lagOf('validator', Topics.Generated.name),
        ];
        if (lags.every((lag) => lag === 0)) break;
        if (Date.now() > deadline) throw new Error(`generator and validator lags stay at ${lags.join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } finally {
      await admin.disconnect();
    }
    const outcomes = new Map<string, string[]>();
    for (const m of pipeline.tap.messages) {
      const type = m.headers['ce_type'] ?? '';
      if (m.key !== null && OUTCOMES.includes(type))
        outcomes.set(m.key, [...(outcomes.get(m.key) ?? []), type]);
    }
    const kinds = ids.map((id) => new Set(outcomes.get(id)).size);
    const duplicates = ids.filter((id) => (outcomes.get(id)?.length ?? 0) > 1);
    process.stdout.write(
      `rebalance burst: ${BURST} requests, ${ids.filter((id) => outcomes.get(id)?.[0] === RequestCompletedEvent.type).length} completed, ${duplicates.length} with a repeated outcome\n`,
    );
    expect(kinds.every((n) => n === 1)).toBe(true);
  });
});
