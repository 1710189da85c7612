// The fault suite's own broker and database: restarts through infra/kafka.sh and infra/postgres.sh
// (data dirs are kept across down/up, so no acknowledged message is lost), and readiness checks
// that wait on state, not on time.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';

const INFRA = join(__dirname, '..', '..', '..', 'infra');

/** The run dir `npm run test:chaos` (scripts/run-chaos.mjs) made for this run; throws when run without it. */
export function chaosRunDir(): string {
  const dir = process.env.CHAOS_RUN_DIR;
  if (!dir) {
    throw new Error(
      'CHAOS_RUN_DIR is not set: run the fault suite with `npm run test:chaos`, which starts a Kafka and a PostgreSQL of its own (it restarts them)',
    );
  }
  return dir;
}

/** Runs `infra/<service>.sh <command>` with the suite's ports and run dir (inherited from the wrapper). */
async function infra(service: 'kafka' | 'postgres', command: 'up' | 'down'): Promise<void> {
  chaosRunDir();
  const output: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('bash', [join(INFRA, `${service}.sh`), command], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0)
    throw new Error(`infra/${service}.sh ${command} failed (exit ${code}):\n${output.join('')}`);
}

/** Stops the broker (controlled shutdown) and starts it again on the same data dir; resolves once it serves. */
export async function restartKafka(): Promise<void> {
  await infra('kafka', 'down');
  await infra('kafka', 'up');
}

/** Stops PostgreSQL (`pg_ctl -m fast`: open connections are cut) and starts it again on the same data. */
export async function restartPostgres(): Promise<void> {
  await infra('postgres', 'down');
  await infra('postgres', 'up');
}

/** Resolves once a query on `url` succeeds, polling until the deadline. */
export async function waitForPostgres(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`PostgreSQL not ready after ${timeoutMs} ms: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** State of one consumer group as the coordinator reports it. */
export interface GroupState {
  readonly groupId: string;
  readonly state: string;
  readonly members: number;
}

/** Reads consumer group states from the broker. */
export class GroupWatch {
  private readonly kafka: Kafka;

  constructor(brokers: string[]) {
    this.kafka = new Kafka({ brokers, clientId: 'chaos-groups', logLevel: logLevel.NOTHING });
  }

  /** Current state of each group (`Stable`, `PreparingRebalance`, `Empty`, …). */
  async states(groupIds: readonly string[]): Promise<GroupState[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([...groupIds]);
      return groups.map((g) => ({ groupId: g.groupId, state: g.state, members: g.members.length }));
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Messages each group has yet to process (end offset minus committed offset, summed over the
   * partitions assigned to its members); Infinity for a group with no member.
   */
  async lag(groupIds: readonly string[]): Promise<Map<string, number>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([...groupIds]);
      const result = new Map<string, number>();
      for (const group of groups) {
        const topics = new Set<string>();
        for (const member of group.members) {
          const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
          for (const topic of Object.keys(decoded?.assignment ?? {})) topics.add(topic);
        }
        if (group.members.length === 0 || topics.size === 0) {
          result.set(group.groupId, Infinity);
          continue;
        }
        let lag = 0;
        for (const { topic, partitions } of await admin.fetchOffsets({
          groupId: group.groupId,
          topics: [...topics],
        })) {
          const ends = await admin.fetchTopicOffsets(topic);
          for (const end of ends) {
            const committed = partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
            const from = BigInt(committed) < 0n ? BigInt(end.low) : BigInt(committed);
            lag += Number(BigInt(end.high) - from);
          }
        }
        result.set(group.groupId, lag);
      }
      return result;
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Resolves with true once every group is Stable with at least one member (its stage consumes),
   * or false at the deadline; broker errors while it restarts count as "not yet".
   */
  async waitStable(groupIds: readonly string[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const states = await this.states(groupIds);
        if (states.length === groupIds.length && states.every((s) => s.state === 'Stable' && s.members > 0)) {
          return true;
        }
      } catch {
        // the coordinator is loading or the broker is still starting
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return false;
  }

  /** Resolves with true once some group has no member left (the coordinator evicted it), false at the deadline. */
  async waitEvicted(groupId: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const [state] = await this.states([groupId]);
        if (state && state.members === 0) return true;
      } catch {
        // not answering yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return false;
  }
}
