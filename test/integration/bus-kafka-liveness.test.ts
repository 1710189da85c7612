import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { RequestSubmitted, RequestSubmittedEvent, TOPICS, Topics } from '@llmbus/contracts';
import { EventBus, type KafkaTransportOptions, outgoing, type RawMessage } from '@llmbus/bus';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { ensureTopics } from '../support/kafka-topics';
import { kafkaBrokers, uniquePrefix } from '../support/env';
import { KAFKA_CLIENTS, type KafkaTransportFactory } from '../support/kafka-clients';

jest.setTimeout(180_000);
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
/** The smallest session timeout brokers accept by default (group.min.session.timeout.ms). */
const SESSION_TIMEOUT_MS = 6000;

function submitted(requestId: string): RequestSubmitted {
  return { requestId, eventType: 'ticket.created', input: { subject: 's' }, requester: { groups: [] } };
}

async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe.each(KAFKA_CLIENTS)(
  'Kafka consumer liveness on a real broker (%s)',
  (client: string, build: KafkaTransportFactory) => {
    const brokers = kafkaBrokers();
    let prefix: string;
    const closers: (() => Promise<void>)[] = [];

    beforeEach(async () => {
      prefix = uniquePrefix('liveness');
      await ensureTopics(
        brokers,
        TOPICS.map((t) => ({ ...t, name: prefix + t.name })),
      );
    });

    // A handler's exception crashes a kafkajs consumer, which kafkajs then does not restart: these
    // tests recreate it. The platformatic member catches it and hands the message again (see
    // platformatic-group-member.spec.ts), so the crash-and-recreate path has no trigger there.
    const kafkajsOnly = client === 'kafkajs' ? it : it.skip;

    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: TOPICS.map((t) => prefix + t.name) }).catch(() => undefined);
      await admin.disconnect();
    });

    async function waitForGroupState(groupId: string, state: string): Promise<void> {
      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const { groups } = await admin.describeGroups([groupId]);
          if (groups[0]?.state === state) return;
          if (Date.now() > deadline) throw new Error(`group ${groupId} never reached ${state}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await admin.disconnect();
      }
    }

    function transport(options: Partial<KafkaTransportOptions> = {}) {
      const t = build({
        brokers,
        clientId: 'liveness-test',
        logger,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        rebalanceTimeoutMs: 60_000,
        ...options,
      });
      closers.push(() => t.close());
      return t;
    }

    it('lets a member busy in a handler longer than the session timeout rejoin a rebalance: handled once, both members consume after', async () => {
      const runs = new Map<string, string[]>();
      const slowStarted = deferred();
      const slowCallDone = deferred();
      const subscribe = (bus: EventBus, member: string) =>
        bus.subscribe({
          stage: 'router',
          groupId: `${prefix}generator`,
          notifyRequester: false,
          handlers: {
            [RequestSubmittedEvent.type]: async (e) => {
              const { requestId } = e.data as RequestSubmitted;
              runs.set(requestId, [...(runs.get(requestId) ?? []), member]);
              if (requestId === 'slow') {
                slowStarted.resolve();
                // The model call: it outlasts the session timeout while a rebalance is pending.
                await slowCallDone.promise;
              }
              return [];
            },
          },
        });
      const busA = new EventBus(transport(), { logger, topicPrefix: prefix });
      const busB = new EventBus(transport(), { logger, topicPrefix: prefix });
      await subscribe(busA, 'A');
      await busA.publish([outgoing(RequestSubmittedEvent, submitted('slow'), { tenantId: 'acme' })]);
      await slowStarted.promise;

      // B joins while A is in the call: the group rebalances and waits for A to rejoin.
      let bJoined = false;
      const bSubscribed = subscribe(busB, 'B').then(() => (bJoined = true));
      await waitForGroupState(`${prefix}generator`, 'PreparingRebalance');
      // The call goes on for longer than the session timeout with the rebalance pending.
      await new Promise((r) => setTimeout(r, SESSION_TIMEOUT_MS + 2000));
      const joinedDuringCall = bJoined;
      slowCallDone.resolve();
      await bSubscribed;

      const later = Array.from({ length: 24 }, (_, i) => `after-${i}`);
      await busA.publish(
        later.map((id) => outgoing(RequestSubmittedEvent, submitted(id), { tenantId: 'acme' })),
      );
      await until(() => later.every((id) => runs.has(id)), 'later requests handled');
      expect(runs.get('slow')).toEqual(['A']);
      // The rebalance waited for A instead of evicting it and handing its partitions to B.
      expect(joinedDuringCall).toBe(false);
      const members = new Set(later.flatMap((id) => runs.get(id) ?? []));
      expect([...members].sort()).toEqual(['A', 'B']);
      expect(later.every((id) => runs.get(id)?.length === 1)).toBe(true);
      expect(busA.health()).toEqual({ consuming: true });
      expect(busB.health()).toEqual({ consuming: true });
    });

    it('rejoins with a member evicted while its handler outlasted the rebalance timeout, instead of leaving it idle', async () => {
      const runs = new Map<string, string[]>();
      const slowStarted = deferred();
      const slowCallDone = deferred();
      const groupId = `${prefix}evicted`;
      const subscribe = (bus: EventBus, member: string) =>
        bus.subscribe({
          stage: 'router',
          groupId,
          notifyRequester: false,
          handlers: {
            [RequestSubmittedEvent.type]: async (e) => {
              const { requestId } = e.data as RequestSubmitted;
              runs.set(requestId, [...(runs.get(requestId) ?? []), member]);
              if (requestId === 'slow' && member === 'A') {
                slowStarted.resolve();
                await slowCallDone.promise;
              }
              return [];
            },
          },
        });
      // A rebalance timeout as short as the session timeout, as before it had a setting of its own.
      const busA = new EventBus(transport({ rebalanceTimeoutMs: SESSION_TIMEOUT_MS }), {
        logger,
        topicPrefix: prefix,
      });
      const busB = new EventBus(transport({ rebalanceTimeoutMs: SESSION_TIMEOUT_MS }), {
        logger,
        topicPrefix: prefix,
      });
      await subscribe(busA, 'A');
      await busA.publish([outgoing(RequestSubmittedEvent, submitted('slow'), { tenantId: 'acme' })]);
      await slowStarted.promise;
      // B can only join once the coordinator has given up on A, which is still in its handler.
      await subscribe(busB, 'B');
      await until(() => runs.get('slow')?.includes('B') === true, 'B handled the message A held');
      slowCallDone.resolve();
      // A's commit now fails with "the coordinator is not aware of this member"; A must rejoin and
      // get partitions again. Keep sending until A handles some (B alone handles them until then).
      const deadline = Date.now() + 60_000;
      let handledByA = false;
      for (let batch = 0; !handledByA; batch++) {
        if (Date.now() > deadline) throw new Error('A never consumed again after its eviction');
        const ids = Array.from({ length: 12 }, (_, i) => `after-${batch}-${i}`);
        await busB.publish(
          ids.map((id) => outgoing(RequestSubmittedEvent, submitted(id), { tenantId: 'acme' })),
        );
        await until(() => ids.every((id) => runs.has(id)), `batch ${batch} handled`);
        handledByA = ids.some((id) => runs.get(id)?.includes('A'));
      }
      expect(busA.health()).toEqual({ consuming: true });
      expect(busB.health()).toEqual({ consuming: true });
    });

    kafkajsOnly(
      'recreates a consumer kafkajs will not restart, reporting not consuming until it has rejoined',
      async () => {
        const topic = prefix + Topics.Request.name;
        const fatal: Error[] = [];
        const t = transport({ rejoinDelayMs: 1000, maxRejoinAttempts: 2, onFatal: (e) => fatal.push(e) });
        const seen: string[] = [];
        await t.consume({
          groupId: `${prefix}rejoin`,
          topics: [topic],
          handle: async (message: RawMessage) => {
            const value = message.value?.toString() ?? '';
            seen.push(value);
            // A defect kafkajs treats as unrecoverable: it disconnects the consumer and does not restart it.
            if (value === 'poison' && seen.filter((v) => v === 'poison').length === 1) {
              throw new TypeError('simulated defect in message handling');
            }
          },
        });
        expect(t.health()).toEqual({ consuming: true });
        await t.produce([{ topic, key: 'k', headers: {}, value: 'poison' }]);
        await until(() => !t.health().consuming, 'not consuming after the crash');
        expect(t.health().reason).toMatch(
          /group .*rejoin: crashed \(TypeError: simulated defect in message handling\); rejoining, attempt 1 of 2/,
        );
        await until(() => t.health().consuming, 'consuming again');
        await t.produce([{ topic, key: 'k', headers: {}, value: 'after' }]);
        await until(() => seen.includes('after'), 'a later message handled');
        expect(seen).toEqual(['poison', 'poison', 'after']);
        expect(fatal).toEqual([]);
      },
    );

    kafkajsOnly(
      'reports a consumer that cannot rejoin to the fatal hook and stays not consuming',
      async () => {
        const topic = prefix + Topics.Request.name;
        const failed = deferred();
        const fatal: Error[] = [];
        const t = transport({
          rejoinDelayMs: 100,
          maxRejoinAttempts: 1,
          onFatal: (e) => {
            fatal.push(e);
            failed.resolve();
          },
        });
        await t.consume({
          groupId: `${prefix}doomed`,
          topics: [topic],
          handle: async () => {
            throw new TypeError('simulated defect in message handling');
          },
        });
        await t.produce([{ topic, key: 'k', headers: {}, value: 'poison' }]);
        await failed.promise;
        expect(fatal).toHaveLength(1);
        expect(fatal[0].message).toMatch(
          /stopped after 1 attempt\(s\) to rejoin: TypeError: simulated defect/,
        );
        expect(t.health()).toEqual({
          consuming: false,
          reason: expect.stringMatching(/doomed: stopped after 1 attempt\(s\) to rejoin/),
        });
      },
    );

    kafkajsOnly(
      'exits a service process non-zero through its shutdown path when its consumer cannot rejoin',
      async () => {
        const topic = prefix + Topics.Request.name;
        const child = spawn(
          process.execPath,
          [join(__dirname, 'fixtures/unrecoverable-consumer.js'), brokers.join(','), prefix, `${prefix}exit`],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        await until(() => out.includes('subscribed'), 'fixture subscribed');
        const producer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer();
        await producer.connect();
        await producer.send({ topic, messages: [{ key: 'k', value: 'poison' }] });
        await producer.disconnect();
        expect(await exited).toBe(1);
        expect(out).toMatch(/could not rejoin its group; exiting so the process is restarted/);
        expect(out).toContain('shutdown path ran');
      },
    );
  },
);
