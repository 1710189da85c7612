import { Topics, topicName } from '@llmbus/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTopics } from '../support/kafka-topics';
import { kafkaBrokers, uniquePrefix } from '../support/env';

jest.setTimeout(120_000);

/** Runs `npm run orchestrate -- ingest ...` as an operator would (the compiled CLI; `npm test` builds first). */
function orchestrateIngest(
  args: readonly string[],
  prefix: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = join(__dirname, '..', '..', 'scripts', 'orchestrate.mjs');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, 'ingest', ...args],
      { env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), LLMBUS_TOPIC_PREFIX: prefix } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('orchestrate ingest (CLI on Kafka)', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'llmbus-ingest-cli-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes none of the files whose document ids collide, and lists each with the others', async () => {
    const prefix = uniquePrefix('ingest-cli');
    const topic = topicName(Topics.DocumentIngest, prefix);
    await ensureTopics(kafkaBrokers(), [{ ...Topics.DocumentIngest, name: topic }]);
    // All three become the id "plan-a": published, the last would replace the other two in the index.
    writeFileSync(join(dir, 'plan a.md'), 'The alpha warranty lasts two years.\n');
    writeFileSync(join(dir, 'plan-a.md'), 'Beta refunds are issued within 3 days.\n');
    writeFileSync(join(dir, 'plan a.txt'), 'Gamma shipping costs 5 euros.\n');
    writeFileSync(join(dir, 'other.md'), 'Delta support answers within a day.\n');

    const run = await orchestrateIngest([dir, '--collection', 'docs', '--tenant', 'acme'], prefix);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`published 1 of 4 files`);
    expect(run.stdout).toContain(
      '  skipped plan a.md: its document id "plan-a" is also the id of plan a.txt, plan-a.md; rename the files',
    );
    expect(run.stdout).toContain(
      '  skipped plan a.txt: its document id "plan-a" is also the id of plan a.md, plan-a.md; rename the files',
    );
    expect(run.stdout).toContain(
      '  skipped plan-a.md: its document id "plan-a" is also the id of plan a.md, plan a.txt; rename the files',
    );
    // The CLI exits once the broker acknowledged what it published: the topic holds just that.
    const admin = new Kafka({
      clientId: 'ingest-cli-test',
      brokers: kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)).toBe(1);
      await admin.deleteTopics({ topics: [topic] });
    } finally {
      await admin.disconnect();
    }
  });
});
