// The knowledge-assistant and contract-review workflows on Kafka through five service processes,
// with the eval harness's scripted competent model (an OpenAI-compatible server in this test that
// answers per dataset item; it is scripted, not a model) serving the generator, and local
// embeddings in the retriever. Items come from the shipped datasets; the eval runner drives the
// platform through the bus like `orchestrate eval --kafka` does.
import { join } from 'node:path';
import type { EventBus } from '@llmbus/bus';
import { loadPlatformConfig } from '@llmbus/config';
import { ContextRetrievedEvent, Topics } from '@llmbus/contracts';
import { createLogger } from '@llmbus/observability';
import { distributedBus } from '@llmbus/runtime';
import {
  type EvalDataset,
  judgeItem,
  loadDataset,
  runDataset,
  ScriptedModelServer,
  scriptedModelEnv,
} from '@llmbus/svc-embedded';
import { dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';

jest.setTimeout(900_000);

const DATASETS = join(__dirname, '..', '..', 'eval', 'workflows');

/** The dataset with only the listed items. */
function subset(file: string, ids: readonly string[]): EvalDataset {
  const dataset = loadDataset(join(DATASETS, file));
  return { ...dataset, items: dataset.items.filter((i) => ids.includes(i.id)) };
}

describe('knowledge assistant and contract review on Kafka: five service processes, scripted competent model', () => {
  const knowledge = subset('knowledge-assistant.jsonl', [
    'ka-01',
    'ka-02',
    'ka-27',
    'ka-33',
    'ka-40',
    'ka-43',
  ]);
  const contracts = subset('contract-review.jsonl', ['cr-01', 'cr-13', 'cr-33', 'cr-35']);
  const scripted = new ScriptedModelServer();
  scripted.register([...knowledge.items, ...contracts.items]);
  let pipeline: Pipeline;
  let bus: EventBus;

  beforeAll(async () => {
    const url = await scripted.start();
    pipeline = new Pipeline('e2e-workflows', {
      tenant: 'acme',
      tapTopics: [Topics.Result.name],
      // Chat from the scripted endpoint for the generator only: the retriever keeps local embeddings.
      serviceEnv: { generator: scriptedModelEnv(url) },
      // The retriever loads the local embedding model before it starts; slow on a busy machine.
      startTimeoutMs: 300_000,
    });
    await pipeline.start();
    const config = loadPlatformConfig(
      {
        LLMBUS_MODE: 'distributed',
        KAFKA_BROKERS: pipeline.brokers.join(','),
        LLMBUS_TOPIC_PREFIX: pipeline.prefix,
      },
      { mode: 'distributed', httpPort: 0, clientId: `${pipeline.prefix}eval`, servesHttp: false },
    );
    bus = distributedBus(config, createLogger({ service: 'e2e-eval', level: 'fatal' }), 'e2e-eval');
  });

  afterAll(async () => {
    await bus?.close();
    await pipeline?.stop();
    await scripted.stop();
  });
  afterEach(() => pipeline && dumpOutputOnFailure(pipeline));

  it('answers with citations within the asker’s permissions, abstains otherwise, and records the documents used', async () => {
    const runs = await runDataset(bus, knowledge, {
      concurrency: 2,
      itemTimeoutMs: 300_000,
      indexTimeoutMs: 600_000,
    });
    const facts = { citationsField: 'output.citations', abstentionField: 'output.abstained' };
    const verdicts = Object.fromEntries(runs.map((r) => [r.item.id, judgeItem(r, facts)]));
    expect(Object.values(verdicts).filter((v) => !v.success)).toEqual([]);
    // The per diem question cites the policy, not the stale wiki page (collection priorities).
    expect(verdicts['ka-02']!.citedDocuments).toEqual(['travel-expenses']);
    // HR reads the salary bands; a member of staff asking the same gets the abstention and a withheld count, no content.
    expect(verdicts['ka-27']!.citedDocuments).toEqual(['salary-bands']);
    const staff = runs.find((r) => r.item.id === 'ka-40')!;
    expect(staff.output).toMatchObject({
      abstained: true,
      answer: 'I could not find this in the documents you can read.',
    });
    expect(staff.withheldCount).toBeGreaterThan(0);
    expect(staff.passages.map((p) => p.documentId)).not.toContain('salary-bands');

    // The trail holds the passages (documents) each answer drew on.
    const answered = runs.find((r) => r.item.id === 'ka-01')!;
    const deadline = Date.now() + 60_000;
    let documents: string[] = [];
    while (Date.now() < deadline && documents.length === 0) {
      const rows = await pipeline.db.query<{ payload: { passages: { documentId: string }[] } }>(
        'SELECT payload FROM audit_events WHERE correlation_id = $1 AND type = $2',
        [answered.requestId, ContextRetrievedEvent.type],
      );
      documents = rows.rows.flatMap((r) => r.payload.passages.map((p) => p.documentId));
      if (documents.length === 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(documents).toContain('travel-expenses');
  });

  it('accepts a contract within the playbook and hands deviations (injected instructions included) to attorney review', async () => {
    const runs = await runDataset(bus, contracts, {
      concurrency: 2,
      itemTimeoutMs: 300_000,
      indexTimeoutMs: 600_000,
    });
    const verdicts = Object.fromEntries(
      runs.map((r) => [r.item.id, judgeItem(r, { citationsField: 'output.citations' })]),
    );
    expect(Object.values(verdicts).filter((v) => !v.success)).toEqual([]);
    expect(verdicts['cr-01']!.outcome).toBe('completed');
    for (const id of ['cr-13', 'cr-33', 'cr-35']) expect(verdicts[id]!.outcome).toBe('review');
    const review = runs.find((r) => r.item.id === 'cr-13')!;
    expect(review.reason).toContain('deviates from the playbook');
    expect(scripted.stats.unmatched).toBe(0);
  });
});
