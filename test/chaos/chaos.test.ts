// The fault suite (`npm run test:chaos`): the five stages as processes on a Kafka broker and a
// PostgreSQL of the suite's own, a scripted OpenAI-compatible model on 127.0.0.1, steady load on
// orchestration.request.v1, and faults injected in turn. It counts by request id (sent, final
// outcomes, lost, conflicting, trail completeness), then fuzzes the consumed topics with malformed
// events and counts where each ended. Waits are on events and broker state, each with a deadline;
// the only timed parts are how long load runs around a fault.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeadLetterTopics, RequestSubmittedEvent, STAGES, Topics } from '@llmbus/contracts';
import { ceHeaders, Pipeline } from '../support/pipeline-harness';
import { workflowsWithoutConfidence } from '../support/workflows-fixture';
import { trailGaps, type TrailGap } from './support/audit-trails';
import {
  chaosRunDir,
  GroupWatch,
  restartKafka,
  restartPostgres,
  waitForPostgres,
} from './support/chaos-infra';
import { CHAOS_EMBEDDING_DIMENSION, ChaosModelServer } from './support/chaos-model-server';
import { chaosProfile } from './support/chaos-profile';
import { FUZZ_CATEGORIES, fuzzCases, type FuzzCase } from './support/fuzz-cases';
import { kindsOf, OutcomeLedger, renderTable, type OutcomeKind } from './support/outcome-ledger';
import { StageSupervisor } from './support/stage-supervisor';
import { SteadyLoad, ticketPayload, type LoadRequest } from './support/steady-load';

const profile = chaosProfile();
jest.setTimeout(profile.name === 'full' ? 80 * 60_000 : 18 * 60_000);

const TENANT = 'chaos';
const MAX_EVENT_BYTES = 64 * 1024;
const MODEL_FAULT_RATE = 0.3;
const READY_MS = 120_000;
const DETAIL_LINES = 20;

/** Parts to run (CHAOS_PHASES, comma-separated; all by default): baseline, kill, broker, postgres, pause, model, fuzz. */
const FAULT_PARTS = ['baseline', 'kill', 'broker', 'postgres', 'pause', 'model'];
const PHASES = (process.env.CHAOS_PHASES ?? [...FAULT_PARTS, 'fuzz'].join(','))
  .split(',')
  .map((p) => p.trim());
const unknownParts = PHASES.filter((p) => ![...FAULT_PARTS, 'fuzz'].includes(p));
if (unknownParts.length > 0) {
  throw new Error(
    `CHAOS_PHASES names ${unknownParts.join(', ')}; expected some of: ${[...FAULT_PARTS, 'fuzz'].join(', ')}`,
  );
}
const runs = (part: string) => PHASES.includes(part);
const print = (text: string) => process.stdout.write(`${text}\n`);
const runFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A model registry with a free chat model (no budget refusals) and small embeddings, served by ChaosModelServer. */
function writeRegistry(dir: string): string {
  const path = join(dir, 'models.registry.json');
  const entry = { provider: 'openai', pricePer1MInputUsd: 0, pricePer1MOutputUsd: 0, tier: 'small' };
  writeFileSync(
    path,
    JSON.stringify({
      models: [
        // A small window, so the long edge-case ticket is truncated by the prompt renderer.
        {
          ...entry,
          id: 'chaos/chat',
          model: 'chaos-chat',
          contextWindow: 1024,
          capabilities: ['chat', 'json', 'tools'],
        },
        {
          ...entry,
          id: 'chaos/embed',
          model: 'chaos-embed',
          contextWindow: 8191,
          capabilities: ['embeddings'],
          embeddingDimension: CHAOS_EMBEDDING_DIMENSION,
        },
      ],
    }),
  );
  return path;
}

/** What a fault did to the pipeline's readiness. */
interface FaultRecord {
  readonly phase: string;
  readonly fault: string;
  /** From the end of the fault to the faulted part serving again. */
  readonly readyMs?: number;
  readonly recovered: boolean;
  readonly note?: string;
}

describe(`fault suite (${profile.name} profile)`, () => {
  const model = new ChaosModelServer();
  let pipeline: Pipeline;
  let supervisor: StageSupervisor;
  let groups: GroupWatch;
  let ledger: OutcomeLedger;
  const groupOf = (stage: string) => `${pipeline.prefix}llmbus.${stage}`;
  const stageGroups = () => STAGES.map(groupOf);

  beforeAll(async () => {
    const runDir = chaosRunDir();
    const baseUrl = await model.start();
    const tapTopics = [
      Topics.Result.name,
      Topics.Review.name,
      Topics.Routed.name,
      Topics.Retrieved.name,
      Topics.Generated.name,
      Topics.Regenerate.name,
      // A refused document's DocumentFailed: the failure a fuzzed DocumentSubmitted must end in.
      Topics.DocumentIndexed.name,
      ...STAGES.map((s) => DeadLetterTopics[s].name),
    ];
    pipeline = new Pipeline('chaos', {
      tenant: TENANT,
      tapTopics,
      env: {
        OPENAI_API_KEY: 'chaos-not-a-secret',
        OPENAI_BASE_URL: baseUrl,
        OPENAI_CHAT_MODEL: 'chaos/chat',
        OPENAI_EMBEDDING_MODEL: 'chaos/embed',
        // Faults reach the bus's retries, not only the SDK's.
        OPENAI_MAX_RETRIES: '0',
        OPENAI_TIMEOUT_MS: '10000',
        LLMBUS_MODELS_REGISTRY: writeRegistry(runDir),
        // No documents are indexed (a killed retriever's embedded store would forget them), so no
        // answer could be grounded: the suite measures delivery, not answer quality.
        LLMBUS_WORKFLOWS_DIR: workflowsWithoutConfidence(runDir),
        LLMBUS_MAX_EVENT_BYTES: String(MAX_EVENT_BYTES),
        KAFKA_SESSION_TIMEOUT_MS: String(profile.sessionTimeoutMs),
      },
    });
    await pipeline.start();
    supervisor = new StageSupervisor(pipeline, join(runDir, 'pids'));
    supervisor.watchAll();
    groups = new GroupWatch(pipeline.brokers);
    ledger = new OutcomeLedger(
      pipeline.tap,
      [
        pipeline.topic(Topics.Result.name),
        pipeline.topic(Topics.Review.name),
        pipeline.topic(Topics.DocumentIndexed.name),
      ],
      STAGES.map((s) => pipeline.topic(DeadLetterTopics[s].name)),
    );
  });

  afterAll(async () => {
    if (supervisor) {
      supervisor.writeLogs(join(chaosRunDir(), 'logs'));
      print(`service logs: ${join(chaosRunDir(), 'logs')} (kept with CHAOS_KEEP_RUN_DIR=1)`);
    }
    supervisor?.release();
    await pipeline?.stop();
    await model.stop();
  });

  /**
   * Kills and restarts the stages whose group is not Stable with a member (alive but not
   * consuming: what a supervisor watching only the process cannot see), so later phases still
   * count; returns a note naming them and the states seen.
   */
  async function restartStuckStages(): Promise<string> {
    const states = await groups.states([...stageGroups(), `${pipeline.prefix}tap`]).catch(() => []);
    const stuck = states.filter((g) => g.state !== 'Stable' || g.members === 0);
    const described = stuck.map(
      (g) => `${g.groupId.replace(pipeline.prefix, '')} ${g.state}/${g.members} member(s)`,
    );
    for (const stage of STAGES.filter((s) => stuck.some((g) => g.groupId === groupOf(s)))) {
      await supervisor.kill9AndRestart(stage);
    }
    return `not consuming: ${described.join(', ') || 'unknown'}; those stages killed and restarted`;
  }

  /** Waits until `done` holds and every stage has processed all its input (lag 0), or the deadline. */
  async function settle(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (done()) {
        try {
          const lag = await groups.lag(stageGroups());
          if ([...lag.values()].every((l) => l === 0)) return true;
        } catch {
          // the broker answers again shortly
        }
      }
      await runFor(250);
    }
    return false;
  }

  (FAULT_PARTS.some(runs) ? it : it.skip)(
    'under steady load with each fault in turn, loses no request, gives none two outcomes, and keeps every trail',
    async () => {
      const load = new SteadyLoad(pipeline, TENANT, profile.ratePerSecond, 'load');
      const faults: FaultRecord[] = [];

      /** Load before the fault, the fault (resolving once the faulted part serves again), load after. */
      async function phase(
        name: string,
        fault: string,
        inject: () => Promise<Omit<FaultRecord, 'phase' | 'fault'>>,
      ) {
        load.phase = name;
        supervisor.phase = name;
        await runFor(profile.beforeFaultMs);
        faults.push({ phase: name, fault, ...(await inject()) });
        await runFor(profile.afterFaultMs);
      }

      load.start();
      if (runs('baseline')) await phase('baseline', 'none', async () => ({ recovered: true }));
      for (const stage of runs('kill') ? STAGES : []) {
        await phase(`kill -9 ${stage}`, `SIGKILL ${stage}, then start it again`, async () => ({
          readyMs: await supervisor.kill9AndRestart(stage),
          recovered: true,
        }));
      }
      if (runs('broker')) {
        await phase('broker restart', 'infra/kafka.sh down, then up (same data dir)', async () => {
          await restartKafka();
          const started = Date.now();
          // Every stage and the tap must be consuming again.
          const recovered = await groups.waitStable([...stageGroups(), `${pipeline.prefix}tap`], READY_MS);
          const readyMs = Date.now() - started;
          return { readyMs, recovered, note: recovered ? undefined : await restartStuckStages() };
        });
      }
      if (runs('postgres'))
        await phase('postgres restart', 'infra/postgres.sh down, then up (same data dir)', async () => {
          await restartPostgres();
          const started = Date.now();
          await waitForPostgres(pipeline.dbUrl, READY_MS);
          const recovered = await groups.waitStable([groupOf('auditor')], READY_MS);
          return { readyMs: Date.now() - started, recovered };
        });
      for (const stage of runs('pause') ? profile.pausedStages : []) {
        await phase(`SIGSTOP ${stage}`, `SIGSTOP ${stage} until evicted, then SIGCONT`, async () => {
          supervisor.pause(stage);
          const evicted = await groups.waitEvicted(groupOf(stage), profile.sessionTimeoutMs * 3);
          supervisor.resume(stage);
          const started = Date.now();
          const rejoined = await groups.waitStable([groupOf(stage)], READY_MS);
          const readyMs = Date.now() - started;
          if (rejoined)
            return { readyMs, recovered: true, note: evicted ? 'evicted, rejoined' : 'never evicted' };
          // Alive but not consuming: a supervisor could not tell. Restart it so later phases still count.
          await supervisor.kill9AndRestart(stage);
          return {
            readyMs,
            recovered: false,
            note: `did not rejoin its group within ${READY_MS / 1000}s after SIGCONT; killed and restarted`,
          };
        });
      }
      if (runs('model'))
        await phase(
          `model faults ${MODEL_FAULT_RATE * 100}%`,
          `model answers 500/429 to ${MODEL_FAULT_RATE * 100}% of calls`,
          async () => {
            const before = model.counts.faulted;
            model.setFaultRate(MODEL_FAULT_RATE);
            await runFor(profile.modelFaultMs);
            model.setFaultRate(0);
            return { recovered: true, note: `${model.counts.faulted - before} calls faulted` };
          },
        );
      await load.stop(READY_MS);

      const sent = [...load.requests.values()].filter((r) => r.ackedAt !== undefined);
      const unsent = load.requests.size - sent.length;
      const drained = await settle(
        () => sent.every((r) => ledger.outcomesOf(r.requestId).length > 0),
        profile.drainMs,
      );
      const kinds = new Map<string, OutcomeKind[]>(
        sent.map((r) => [r.requestId, kindsOf(ledger.outcomesOf(r.requestId))]),
      );
      const gaps = await trailGaps(pipeline.dbUrl, TENANT, kinds, profile.trailMs);
      const gapOf = new Map(gaps.map((g) => [g.requestId, g]));

      const phases = [...new Set([...load.requests.values()].map((r) => r.phase))];
      const row = (label: string, requests: LoadRequest[]) => {
        const acked = requests.filter((r) => r.ackedAt !== undefined);
        const count = (kind: OutcomeKind) =>
          acked.filter((r) => kinds.get(r.requestId)!.includes(kind)).length;
        return [
          label,
          acked.length,
          count('completed'),
          count('failed'),
          count('review'),
          acked.filter((r) => kinds.get(r.requestId)!.length === 0).length,
          acked.filter((r) => kinds.get(r.requestId)!.length > 1).length,
          acked.filter((r) => ledger.outcomesOf(r.requestId).length > kinds.get(r.requestId)!.length).length,
          acked.filter((r) => gapOf.has(r.requestId)).length,
        ];
      };
      const rows = phases.map((p) => row(p, load.ofPhase(p)));
      const total = row('TOTAL', [...load.requests.values()]);
      print(`\n=== fault suite (${profile.name}): counts by request id, per phase the request was sent in`);
      print(
        renderTable(
          [
            'phase',
            'sent',
            'completed',
            'failed',
            'review',
            'lost',
            'conflicting',
            'dup-outcome',
            'trail-gaps',
          ],
          [...rows, total],
        ),
      );
      print(`\n=== faults`);
      print(
        renderTable(
          ['phase', 'fault', 'ready-after-s', 'recovered', 'note'],
          faults.map((f) => [
            f.phase,
            f.fault,
            f.readyMs === undefined ? '-' : (f.readyMs / 1000).toFixed(1),
            f.recovered ? 'yes' : 'NO',
            f.note ?? '',
          ]),
        ),
      );
      print(
        `model calls: ${model.counts.chat} chat, ${model.counts.embeddings} embeddings, ${model.counts.faulted} faulted; ` +
          `unsent (never acknowledged): ${unsent}; drained: ${drained ? 'yes' : `NO (deadline ${profile.drainMs / 1000}s)`}` +
          (load.lastSendError ? `; last send error: ${load.lastSendError}` : ''),
      );
      for (const exit of supervisor.unplannedExits) {
        print(
          `unplanned exit in "${exit.phase}": ${exit.stage} (pid ${exit.pid}, ${exit.how}); restarted. Last output:\n${exit.tail}`,
        );
      }

      const lost = sent.filter((r) => kinds.get(r.requestId)!.length === 0);
      const conflicting = sent.filter((r) => kinds.get(r.requestId)!.length > 1);
      const describe = (r: LoadRequest) =>
        `${r.requestId} [${r.phase}, ${r.kind}] outcomes: ${
          ledger
            .outcomesOf(r.requestId)
            .map((o) => `${o.kind}${o.code ? `(${o.code} by ${o.stage})` : ''} ${o.eventId}`)
            .join(', ') || 'none'
        }; events seen (any order): ${ledger.pathOf(r.requestId).join(' > ') || 'none'}` +
        (gapOf.has(r.requestId)
          ? `; trail lacks ${gapOf.get(r.requestId)!.missing.join(', ')} (holds ${describeGap(gapOf.get(r.requestId)!)})`
          : '');
      const failures: string[] = [];
      if (unsent > 0)
        failures.push(`${unsent} request(s) never acknowledged by the broker (${load.lastSendError})`);
      if (lost.length > 0)
        failures.push(`lost ${lost.length}:\n  ${lost.slice(0, DETAIL_LINES).map(describe).join('\n  ')}`);
      if (conflicting.length > 0)
        failures.push(
          `conflicting ${conflicting.length}:\n  ${conflicting.slice(0, DETAIL_LINES).map(describe).join('\n  ')}`,
        );
      if (gaps.length > 0) {
        const withGap = sent.filter((r) => gapOf.has(r.requestId));
        failures.push(
          `incomplete trails ${gaps.length}:\n  ${withGap.slice(0, DETAIL_LINES).map(describe).join('\n  ')}`,
        );
      }
      for (const f of faults.filter((x) => !x.recovered))
        failures.push(`${f.phase}: did not recover by itself (${f.note})`);
      if (failures.length > 0) print(`\n=== fault suite FAILED\n${failures.join('\n')}`);
      expect(failures).toEqual([]);
    },
  );

  (runs('fuzz') ? it : it.skip)(
    'dead-letters every malformed event (with a RequestFailed where it names a request) while valid requests keep completing',
    async () => {
      model.setFaultRate(0);
      const cases = fuzzCases(profile.fuzzCount, 'fz', MAX_EVENT_BYTES);
      const edge = edgeRequests();
      const edgeEvery = Math.floor(cases.length / (edge.length + 1));
      const positions: { c: FuzzCase; partition: number; offset: string }[] = [];
      const valid: string[] = [];
      const submit = async (requestId: string, payload: Record<string, unknown>) => {
        await pipeline.send(
          Topics.Request.name,
          requestId,
          ceHeaders(RequestSubmittedEvent.type, requestId, TENANT),
          JSON.stringify(payload),
        );
      };
      for (const [i, c] of cases.entries()) {
        const [meta] = await pipeline.producer.send({
          topic: pipeline.topic(c.logicalTopic),
          acks: -1,
          messages: [{ key: c.key, headers: c.headers, value: c.value }],
        });
        positions.push({ c, partition: meta.partition, offset: meta.baseOffset! });
        if ((i + 1) % profile.validEvery === 0) {
          const requestId = `fz-valid-${String(valid.length).padStart(4, '0')}`;
          await submit(requestId, ticketPayload(requestId, 'complete'));
          valid.push(requestId);
        }
        const e = (i + 1) % edgeEvery === 0 ? edge[(i + 1) / edgeEvery - 1] : undefined;
        if (e) await submit(e.requestId, e.payload);
      }

      const deadLettered = (p: (typeof positions)[number]) =>
        ledger
          .deadLettersOf(pipeline.topic(p.c.logicalTopic), p.partition, p.offset)
          .filter((d) => d.dlqTopic === pipeline.topic(DeadLetterTopics[p.c.stage].name));
      const failedSeen = (p: (typeof positions)[number]) =>
        p.c.requestId !== null && ledger.outcomesOf(p.c.requestId).some((o) => o.kind === 'failed');
      const accounted = (p: (typeof positions)[number]) =>
        deadLettered(p).length > 0 && (p.c.requestId === null || failedSeen(p));
      const valids = [...valid, ...edge.map((e) => e.requestId)];
      const drained = await settle(
        () => positions.every(accounted) && valids.every((id) => ledger.outcomesOf(id).length > 0),
        profile.drainMs,
      );

      const kindsOfValid = new Map<string, OutcomeKind[]>(
        valids.map((id) => [id, kindsOf(ledger.outcomesOf(id))]),
      );
      const gaps = await trailGaps(pipeline.dbUrl, TENANT, kindsOfValid, profile.trailMs);
      const gapOf = new Map(gaps.map((g) => [g.requestId, g]));

      const row = (label: string, list: typeof positions) => [
        label,
        list.length,
        list.filter((p) => deadLettered(p).length > 0).length,
        list.filter((p) => p.c.requestId !== null).length,
        list.filter(failedSeen).length,
        list.filter((p) => !accounted(p)).length,
      ];
      print(`\n=== fuzz (${profile.name}): malformed events produced straight to the consumed topics`);
      print(
        renderTable(
          ['category', 'sent', 'dead-lettered', 'failed-expected', 'failed-seen', 'unaccounted'],
          [
            ...FUZZ_CATEGORIES.map((cat) =>
              row(
                cat,
                positions.filter((p) => p.c.category === cat),
              ),
            ),
            row('TOTAL', positions),
          ],
        ),
      );
      const auditorDlq = pipeline.topic(DeadLetterTopics.auditor.name);
      const byAuditor = positions.filter((p) =>
        ledger
          .deadLettersOf(pipeline.topic(p.c.logicalTopic), p.partition, p.offset)
          .some((d) => d.dlqTopic === auditorDlq),
      ).length;
      const completedValid = valid.filter((id) => kindsOfValid.get(id)!.join() === 'completed').length;
      print(
        `valid requests interleaved: ${valid.length} sent, ${completedValid} completed, ` +
          `${valid.filter((id) => gapOf.has(id)).length} with an incomplete trail; drained: ${drained ? 'yes' : 'NO'}; ` +
          `also dead-lettered by the auditor: ${byAuditor}`,
      );
      print(`\n=== edge requests (text a store may not hold): one final outcome and a complete trail each`);
      print(
        renderTable(
          ['request', 'case', 'outcomes', 'trail'],
          edge.map((e) => [
            e.requestId,
            e.label,
            ledger
              .outcomesOf(e.requestId)
              .map((o) => `${o.kind}${o.code ? `(${o.code} by ${o.stage})` : ''}`)
              .join(' + ') || 'none',
            gapOf.has(e.requestId) ? `lacks ${gapOf.get(e.requestId)!.missing.join(', ')}` : 'complete',
          ]),
        ),
      );

      const failures: string[] = [];
      const unaccounted = positions.filter((p) => !accounted(p));
      if (unaccounted.length > 0) {
        failures.push(
          `unaccounted ${unaccounted.length}:\n  ` +
            unaccounted
              .slice(0, DETAIL_LINES * 2)
              .map((p) => {
                const outcomes = p.c.requestId ? ledger.outcomesOf(p.c.requestId) : [];
                const anyDlq = ledger.deadLettersOf(pipeline.topic(p.c.logicalTopic), p.partition, p.offset);
                return (
                  `${p.c.requestId ?? '(no id)'} ${p.c.category}/${p.c.variant} on ${p.c.logicalTopic} (${p.partition}@${p.offset}): ` +
                  `dead letter by ${p.c.stage}: ${
                    deadLettered(p)
                      .map((d) => d.reasonCode)
                      .join(',') || 'none'
                  }` +
                  (anyDlq.length
                    ? ` (others: ${anyDlq.map((d) => `${d.dlqTopic.replace(pipeline.prefix, '')}:${d.reasonCode}`).join(', ')})`
                    : '') +
                  `; outcomes: ${outcomes.map((o) => `${o.kind}${o.code ? `(${o.code} by ${o.stage})` : ''}`).join(', ') || 'none'}` +
                  (p.c.requestId
                    ? `; events seen (any order): ${ledger.pathOf(p.c.requestId).join(' > ') || 'none'}`
                    : '')
                );
              })
              .join('\n  '),
        );
      }
      const notCompleted = valid.filter((id) => kindsOfValid.get(id)!.join() !== 'completed');
      if (notCompleted.length > 0)
        failures.push(
          `valid requests not (only) completed ${notCompleted.length}: ${notCompleted
            .slice(0, DETAIL_LINES)
            .map((id) => `${id}: ${kindsOfValid.get(id)!.join('+') || 'none'}`)
            .join('; ')}`,
        );
      for (const e of edge) {
        const k = kindsOfValid.get(e.requestId)!;
        if (k.length !== 1)
          failures.push(
            `edge ${e.requestId} (${e.label}): ${k.length} outcome kinds (${k.join('+') || 'none'})`,
          );
      }
      if (gaps.length > 0)
        failures.push(
          `incomplete trails ${gaps.length}: ${gaps
            .slice(0, DETAIL_LINES)
            .map((g) => `${g.requestId} lacks ${g.missing.join(', ')} (holds ${describeGap(g)})`)
            .join('; ')}`,
        );
      if (failures.length > 0) print(`\n=== fuzz FAILED\n${failures.join('\n')}`);
      expect(failures).toEqual([]);
    },
  );
});

function describeGap(gap: TrailGap): string {
  return gap.present.length ? gap.present.join(', ') : 'nothing';
}

/**
 * Valid requests whose text a store may not hold as sent (issue 13, fault 1): NUL, lone
 * surrogates, a long emoji text the prompt renderer must cut on a code-point boundary. Any one
 * final outcome is right (refused at the boundary or normalised); a missing trail is not.
 */
function edgeRequests(): { requestId: string; label: string; payload: Record<string, unknown> }[] {
  const make = (n: number, label: string, subject: string, body: string) => {
    const requestId = `fz-edge-${n}`;
    const payload = ticketPayload(requestId, 'complete');
    return {
      requestId,
      label,
      payload: { ...payload, input: { ...(payload.input as object), subject, body } },
    };
  };
  return [
    make(0, 'NUL in the subject', 'Password\u0000reset', 'The reset email never arrives.'),
    make(1, 'NUL in the body', 'Password reset', 'The reset email\u0000never arrives.'),
    make(2, 'lone high surrogate', 'Password reset \ud83d', 'The reset email never arrives.'),
    make(3, 'lone low surrogate', 'Password reset', 'The reset email \ude00 never arrives.'),
    make(4, '4,100 emoji (cut by the prompt window)', 'Password reset', '\u{1F600}'.repeat(4100)),
    make(5, 'noncharacter U+FFFF', 'Password reset \uffff', 'The reset email never arrives.'),
  ];
}
