import { PgliteAuditStore, type UnfinishedRequest } from '@llmbus/audit';
import { EventBus, InMemoryTransport } from '@llmbus/bus';
import {
  ContextRetrievedEvent,
  ModelCallRecordedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ReviewDecidedEvent,
  ReviewRequestedEvent,
  ToolCallsCompletedEvent,
  type EventEnvelope,
  type RequestContext,
  type RequestFailed,
} from '@llmbus/contracts';
import { AuditPrivacy } from '@llmbus/svc-auditor';
import { DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  INTERRUPTED_LIMIT,
  RESUMABLE_TYPES,
  resumableRaw,
  resumeDecision,
  takeUpInterruptedRequests,
  type ResumeOptions,
} from './interrupted-requests';

const logger = pino({ level: 'silent' });
const NOW = Date.UTC(2026, 0, 2);
const HOUR = 60 * 60 * 1000;
const options: ResumeOptions = { now: NOW, maxAgeMs: 24 * HOUR, raw: (envelope) => envelope };

const input = { subject: 'Refund', body: 'I was charged twice.' };
const context: RequestContext = {
  workflow: { id: 'support-ticket', version: 1 },
  requester: { userId: 'u-17', groups: ['support'] },
  modelTier: 'small',
  budget: { maxOutputTokens: 512, maxCostUsd: 0.05 },
};

/** A valid payload of each path type the flows below record, for request `requestId`. */
function payloadOf(type: string, requestId: string): Record<string, unknown> {
  const byType: Record<string, object> = {
    [RequestSubmittedEvent.type]: { eventType: 'ticket.created', input, requester: context.requester },
    [RequestRoutedEvent.type]: {
      context,
      input,
      retrieval: { collections: ['kb'], topK: 4, query: input.subject },
    },
    [ContextRetrievedEvent.type]: {
      context,
      input,
      passages: [],
      withheldCount: 0,
      relevance: 0,
      answerable: false,
    },
  };
  return { ...(byType[type] ?? {}), requestId };
}

/**
 * What an earlier embedded run left in its audit store (LLMBUS_DATA_DIR) when it stopped: requests
 * finished, in review, and in flight. The in-flight ones are resumed from their last event on the
 * request's path on the next start, or failed with the reason when that event cannot be resumed.
 */
describe('requests an earlier embedded run did not finish', () => {
  let store: PgliteAuditStore;
  let offset = 0;
  const record = (tenant: string, requestId: string, type: string, at: number, data?: object) => {
    const envelope: EventEnvelope = {
      id: `${requestId}-${type}`,
      source: '/llmbus/test',
      type,
      specversion: '1.0',
      time: new Date(at).toISOString(),
      correlationid: requestId,
      tenantid: tenant,
      schemaversion: 1,
      data: data ?? payloadOf(type, requestId),
    };
    return store.record(envelope, { topic: 'orchestration.test.v1', partition: 0, offset: String(offset++) });
  };

  beforeAll(async () => {
    store = await PgliteAuditStore.open();
    const flows: [string, string, string[], number][] = [
      ['acme', 'done', [RequestSubmittedEvent.type, RequestRoutedEvent.type, RequestCompletedEvent.type], 0],
      ['acme', 'refused', [RequestSubmittedEvent.type, RequestFailedEvent.type], 0],
      [
        'acme',
        'in-review',
        [RequestSubmittedEvent.type, RequestRoutedEvent.type, ReviewRequestedEvent.type],
        0,
      ],
      ['acme', 'routed', [RequestSubmittedEvent.type, RequestRoutedEvent.type], 0],
      // A model call recorded after the event its generation consumed: not on the path.
      [
        'globex',
        'retrieved',
        [
          RequestSubmittedEvent.type,
          RequestRoutedEvent.type,
          ContextRetrievedEvent.type,
          ModelCallRecordedEvent.type,
        ],
        0,
      ],
      ['acme', 'submitted', [RequestSubmittedEvent.type], 0],
      ['acme', 'old', [RequestSubmittedEvent.type, RequestRoutedEvent.type], -25 * HOUR],
      // Not a request (no submission): e.g. a dead letter correlated by its position.
      ['acme', 'no-submission', [RequestRoutedEvent.type], 0],
    ];
    let second = 0;
    for (const [tenant, requestId, types, shift] of flows)
      for (const type of types) await record(tenant, requestId, type, NOW - HOUR + shift + ++second * 1000);
    // A tool round whose results were recorded: resumed from them, never from the calls' request.
    await record('acme', 'tools', RequestSubmittedEvent.type, NOW - HOUR + ++second * 1000);
    await record('acme', 'tools', ToolCallsCompletedEvent.type, NOW - HOUR + ++second * 1000, {
      requestId: 'tools',
    });
    // A decision that is not valid for the current contract.
    await record('acme', 'decided', RequestSubmittedEvent.type, NOW - HOUR + ++second * 1000);
    await record('acme', 'decided', ReviewRequestedEvent.type, NOW - HOUR + ++second * 1000, {});
    await record('acme', 'decided', ReviewDecidedEvent.type, NOW - HOUR + ++second * 1000, {
      requestId: 'decided',
    });
    // Submitted two days ago, routed an hour ago (e.g. after a long wait upstream): resumed, as the
    // bound counts from the last step.
    await record('acme', 'slow', RequestSubmittedEvent.type, NOW - 48 * HOUR);
    await record('acme', 'slow', RequestRoutedEvent.type, NOW - HOUR + ++second * 1000);
  });
  afterAll(() => store.close());

  const decisions = async () =>
    (await store.unfinishedRequests(INTERRUPTED_LIMIT, RESUMABLE_TYPES)).map((u: UnfinishedRequest) => {
      const d = resumeDecision(u, options);
      if (d.action === 'leave') return [u.requestId, d.action, d.reason];
      return [
        u.requestId,
        d.action,
        d.action === 'resume' ? d.envelope.type : d.cause.type,
        d.action === 'resume' ? d.envelope.id : d.reason,
        d.stage,
      ];
    });

  it('resumes each in-flight request from its last event on the path, fails what cannot be resumed, leaves the rest', async () => {
    expect(await decisions()).toEqual([
      ['routed', 'resume', RequestRoutedEvent.type, `routed-${RequestRoutedEvent.type}`, 'retriever'],
      [
        'retrieved',
        'resume',
        ContextRetrievedEvent.type,
        `retrieved-${ContextRetrievedEvent.type}`,
        'generator',
      ],
      [
        'submitted',
        'resume',
        RequestSubmittedEvent.type,
        `submitted-${RequestSubmittedEvent.type}`,
        'router',
      ],
      [
        'old',
        'fail',
        RequestRoutedEvent.type,
        expect.stringMatching(/more than LLMBUS_RESUME_MAX_AGE_MS \(86400000 ms\) ago/),
        'retriever',
      ],
      [
        'tools',
        'fail',
        ToolCallsCompletedEvent.type,
        expect.stringContaining(
          `(${ToolCallsCompletedEvent.type} tools-${ToolCallsCompletedEvent.type}) has a payload the current contract refuses`,
        ),
        'generator',
      ],
      [
        'decided',
        'fail',
        ReviewDecidedEvent.type,
        expect.stringMatching(/has a payload the current contract refuses/),
        'validator',
      ],
      ['slow', 'resume', RequestRoutedEvent.type, `slow-${RequestRoutedEvent.type}`, 'retriever'],
    ]);
  });

  it('publishes a resumed event again unchanged (id, source, time, payload), and fails the rest once whatever the restarts', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger });
    const routedSeen: EventEnvelope[] = [];
    await bus.subscribe({
      stage: 'retriever',
      notifyRequester: false,
      handlers: {
        [RequestRoutedEvent.type]: async (event) => {
          routedSeen.push(event);
          return [];
        },
      },
    });
    await bus.subscribe({
      stage: 'auditor',
      notifyRequester: false,
      onRetriesExhausted: 'redeliver',
      handlers: {
        '*': async (event, context) => {
          if (!context.message) throw new Error('the in-memory transport gives every event a position');
          await store.record(event, context.message);
          return [];
        },
      },
    });
    try {
      const unfinished = await store.unfinishedRequests(INTERRUPTED_LIMIT, RESUMABLE_TYPES);
      expect(await takeUpInterruptedRequests(bus, unfinished, options, logger)).toEqual({
        resumed: 4,
        failed: 3,
        left: 0,
      });
      // The same again (a start cut short before the outcomes were recorded): the same event ids.
      await takeUpInterruptedRequests(bus, unfinished, options, logger);
      const deadline = Date.now() + 30_000;
      while (routedSeen.length === 0 || (await store.requestStatus('acme', 'old'))?.status !== 'failed') {
        if (Date.now() > deadline) throw new Error('the resumed and failed events were not seen within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const recorded = (await store.trail('acme', 'routed')).find(
        (r) => r.envelope.type === RequestRoutedEvent.type,
      )!.envelope;
      const seen = routedSeen.find((e) => e.correlationid === 'routed')!;
      expect(seen).toEqual({ ...recorded, data: expect.objectContaining({ requestId: 'routed' }) });
      expect(seen.data).toEqual(recorded.data);

      const old = await store.trail('acme', 'old');
      const failures = old.filter((r) => r.envelope.type === RequestFailedEvent.type);
      expect(failures).toHaveLength(1);
      expect(failures[0].envelope.causationid).toBe(`old-${RequestRoutedEvent.type}`);
      expect(failures[0].envelope.data as unknown as RequestFailed).toMatchObject({
        code: 'processing_error',
        stage: 'retriever',
        message: expect.stringMatching(
          /stopped before this request finished and it cannot be resumed.*submit it again/,
        ),
      });
      // Every event id once in the trail, though each was published twice.
      const ids = old.map((r) => r.envelope.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(await store.requestStatus('acme', 'in-review')).not.toMatchObject({ status: 'failed' });
    } finally {
      await bus.close();
    }
  });
});

/**
 * A workflow whose audit policy redacts a type for good keeps no raw value of it in the trail: the
 * event recorded there is not the one published, so a request cannot be resumed from it.
 */
describe('resuming from an event the audit policy redacted', () => {
  const key = Buffer.alloc(32, 7);
  const card = '4111 1111 1111 1111';
  const privacyWith = (audit: string): AuditPrivacy => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-workflows-'));
    cpSync(DEFAULT_WORKFLOWS_DIR, dir, { recursive: true });
    const file = join(dir, 'support-ticket.v1.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ {2}audit: .*$/m, `  audit: ${audit}`));
    return new AuditPrivacy(WorkflowRegistry.fromDirectory(dir), key);
  };
  const stored = (privacy: AuditPrivacy): UnfinishedRequest => {
    const published: EventEnvelope<Record<string, unknown>> = {
      id: 'r9-routed',
      source: '/llmbus/router',
      type: RequestRoutedEvent.type,
      specversion: '1.0',
      time: new Date(NOW - HOUR).toISOString(),
      correlationid: 'r9',
      tenantid: 'acme',
      schemaversion: 1,
      data: {
        ...payloadOf(RequestRoutedEvent.type, 'r9'),
        input: { subject: 'Refund', body: `I was charged twice on card ${card}. Dana Whitfield` },
      },
    };
    const record = {
      envelope: privacy.forStorage(published),
      position: { topic: 'orchestration.routed.v1', partition: 0, offset: '0' },
      recordedAt: published.time,
    };
    return {
      tenantId: 'acme',
      requestId: 'r9',
      lastEvent: record,
      lastPathEvent: record,
      submittedAt: published.time,
    };
  };

  it('fails it, saying so, instead of resuming it on the redacted text', () => {
    const privacy = privacyWith('{ default: mask, PAYMENT_CARD: redact }');
    const decision = resumeDecision(stored(privacy), { ...options, raw: resumableRaw(privacy) });
    expect(decision).toMatchObject({ action: 'fail', stage: 'retriever' });
    if (decision.action === 'fail') expect(decision.reason).toMatch(/redacted PAYMENT_CARD/);
  });

  it('resumes one whose values were masked: restored as published', () => {
    const privacy = privacyWith('{ default: mask }');
    const decision = resumeDecision(stored(privacy), { ...options, raw: resumableRaw(privacy) });
    expect(decision).toMatchObject({ action: 'resume', stage: 'retriever' });
    if (decision.action === 'resume')
      expect((decision.envelope.data as { input: { body: string } }).input.body).toContain(card);
  });
});

/**
 * A start whose key does not open the trail (LLMBUS_PII_KEY set before and unset since, so a fresh
 * pii.key was made; or a key file not restored with the data) is a misconfiguration the operator is
 * warned of. The requests it cannot open are left for a start with the right key, not failed for good.
 */
describe('resuming under a key that does not open the trail', () => {
  const sealedUnder = (key: Buffer): UnfinishedRequest => {
    const published: EventEnvelope<Record<string, unknown>> = {
      id: 'r7-routed',
      source: '/llmbus/router',
      type: RequestRoutedEvent.type,
      specversion: '1.0',
      time: new Date(NOW - HOUR).toISOString(),
      correlationid: 'r7',
      tenantid: 'acme',
      schemaversion: 1,
      data: {
        ...payloadOf(RequestRoutedEvent.type, 'r7'),
        input: { subject: 'Refund', body: 'Dana Whitfield, dana@example.com' },
      },
    };
    const privacy = new AuditPrivacy(WorkflowRegistry.fromDirectory(DEFAULT_WORKFLOWS_DIR), key);
    const record = {
      envelope: privacy.forStorage(published),
      position: { topic: 'orchestration.routed.v1', partition: 0, offset: '0' },
      recordedAt: published.time,
    };
    return {
      tenantId: 'acme',
      requestId: 'r7',
      lastEvent: record,
      lastPathEvent: record,
      submittedAt: published.time,
    };
  };
  const wrong = new AuditPrivacy(WorkflowRegistry.fromDirectory(DEFAULT_WORKFLOWS_DIR), Buffer.alloc(32, 2));

  it('leaves the request for a later start when the start was warned its key does not open the trail', async () => {
    const unfinished = sealedUnder(Buffer.alloc(32, 1));
    const resume = { ...options, raw: resumableRaw(wrong), trailKeyProblem: true };
    expect(resumeDecision(unfinished, resume)).toMatchObject({
      action: 'leave',
      reason: expect.stringMatching(/could not have its personal data restored/),
    });
    const bus = new EventBus(new InMemoryTransport(), { logger });
    const failed: EventEnvelope[] = [];
    await bus.subscribe({
      stage: 'auditor',
      notifyRequester: false,
      handlers: { [RequestFailedEvent.type]: async (event) => (failed.push(event), []) },
    });
    try {
      expect(await takeUpInterruptedRequests(bus, [unfinished], resume, logger)).toEqual({
        resumed: 0,
        failed: 0,
        left: 1,
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(failed).toEqual([]);
    } finally {
      await bus.close();
    }
  });

  it('fails it when the key opens the trail and only this record is sealed under a key no longer held', () => {
    const decision = resumeDecision(sealedUnder(Buffer.alloc(32, 1)), {
      ...options,
      raw: resumableRaw(wrong),
    });
    expect(decision).toMatchObject({
      action: 'fail',
      reason: expect.stringMatching(
        /could not have its personal data restored \(sealed under a PII key neither LLMBUS_PII_KEY nor LLMBUS_PII_PREVIOUS_KEYS holds\)$/,
      ),
    });
    // The requester reads this: nothing about a generator and a validator, which took no part.
    if (decision.action === 'fail') expect(decision.reason).not.toMatch(/generator|validator/);
  });
});
