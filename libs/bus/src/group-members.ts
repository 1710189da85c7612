import type { Admin } from 'kafkajs';
import { PartitionLag, registerLagSource } from './metrics';
import type { ConsumeOptions, ConsumerHealth, Subscription } from './transport';

/** A consumer-group member as both Kafka transports drive it: started once, closed once. */
export interface GroupMember {
  /** Joins the group and starts fetching; rejects when it cannot join. */
  start(): Promise<void>;
  /** Leaves the group (a graceful LeaveGroup) and stops; safe to call more than once. */
  close(): Promise<void>;
  /** Whether the member is in its group and fetching, and why not. */
  health(): ConsumerHealth;
}

/** What a transport lends the members' subscriptions: its lag reader and its group deletion. */
export interface GroupMembersHost {
  /** Committed offset versus partition end per partition of `topics` for `groupId`. */
  lag(groupId: string, topics: readonly string[]): Promise<PartitionLag[]>;
  /** Deletes an empty consumer group, best-effort (never rejects). */
  deleteGroup(groupId: string): Promise<void>;
}

/**
 * The live members of a transport (one per subscription): starts one and hands back the
 * subscription that closes it, reports their joint health, closes them all. Shared by the kafkajs
 * and the @platformatic/kafka transports, whose members differ only in the client under them.
 */
export class GroupMembers<M extends GroupMember> {
  private readonly members = new Set<M>();

  constructor(private readonly host: GroupMembersHost) {}

  /**
   * Starts `member` for `options`; its lag is reported with the others' (metrics) until the
   * subscription is closed, which also deletes the group when `options.deleteGroupOnClose`.
   * Rejects with the member's start error, after closing it.
   */
  async subscribe(
    member: M,
    options: Pick<ConsumeOptions, 'groupId' | 'topics' | 'deleteGroupOnClose'>,
  ): Promise<Subscription> {
    this.members.add(member);
    try {
      await member.start();
    } catch (error) {
      this.members.delete(member);
      await member.close().catch(() => undefined);
      throw error;
    }
    const unregister = registerLagSource(() => this.host.lag(options.groupId, options.topics));
    return {
      close: async () => {
        unregister();
        this.members.delete(member);
        await member.close();
        if (options.deleteGroupOnClose) await this.host.deleteGroup(options.groupId);
      },
    };
  }

  /** Consuming while every member is in its group; otherwise the first that is not. */
  health(): ConsumerHealth {
    for (const member of this.members) {
      const health = member.health();
      if (!health.consuming) return health;
    }
    return { consuming: true };
  }

  /** Closes every member at once. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.members].map((m) => m.close()));
    this.members.clear();
  }
}

/**
 * Committed offset versus partition end for each partition of `topics` that `groupId` reads, through
 * a connected kafkajs admin client (OffsetFetch and ListOffsets requests, off the hot path). A
 * partition without a commit counts from its earliest retained offset, where the group starts.
 */
export async function groupLag(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  const result: PartitionLag[] = [];
  for (const { topic, partitions } of committed) {
    for (const end of await admin.fetchTopicOffsets(topic)) {
      const done = partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      const from = BigInt(done) < 0n ? BigInt(end.low) : BigInt(done);
      result.push({ groupId, topic, partition: end.partition, lag: Number(BigInt(end.high) - from) });
    }
  }
  return result;
}
