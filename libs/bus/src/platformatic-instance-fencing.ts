import type { Logger } from 'pino';
import type { PConsumer, PlatformaticClient } from './platformatic-client';

/**
 * A static member replaced twice within this many milliseconds (or twice the session timeout) is
 * taken for one whose KAFKA_GROUP_INSTANCE_ID another live process shares (see memberReplaced).
 */
const REPLACED_AGAIN_WINDOW_MS = 60_000;

/**
 * Tells when a static member (KIP-345) is fenced by another live process that joined its group with
 * the same `group.instance.id` (KAFKA_GROUP_INSTANCE_ID). The client would rejoin at once and fence
 * the other in turn, so both kept fetching every partition, each handled every message (side
 * effects twice) and both reported healthy. Told by the client's diagnostics channels (group,
 * heartbeat, commit) when the broker answers FENCED_INSTANCE_ID, and by the member id replaced
 * again and again (see memberReplaced). One per subscription.
 */
export class InstanceFencing {
  private unwatch?: () => void;
  /** When this subscription's static member id was last replaced, in epoch ms. */
  private lastReplacedAt?: number;

  constructor(
    private readonly client: PlatformaticClient,
    private readonly groupId: string,
    private readonly log: Logger,
  ) {}

  /**
   * Calls `onFenced` once the broker answers FENCED_INSTANCE_ID to `consumer` while `current()`
   * holds; replaces the watch of a previous consumer.
   */
  watch(consumer: PConsumer, current: () => boolean, onFenced: () => void): void {
    this.stop();
    const channels = [
      this.client.consumerGroupChannel,
      this.client.consumerHeartbeatChannel,
      this.client.consumerCommitsChannel,
    ];
    const onError = (message: unknown) => {
      const { client: from, error } = message as { client?: unknown; error?: unknown };
      if (from !== consumer || !current()) return;
      if (!this.client.findErrorBy(error as Error, 'apiId', 'FENCED_INSTANCE_ID')) return;
      onFenced();
    };
    for (const channel of channels) channel.error.subscribe(onError);
    this.unwatch = () => {
      for (const channel of channels) channel.error.unsubscribe(onError);
      this.unwatch = undefined;
    };
  }

  /** Stops watching the diagnostics channels. */
  stop(): void {
    this.unwatch?.();
  }

  /**
   * Tells that the broker gave this static member a new member id; true when it happened before
   * within REPLACED_AGAIN_WINDOW_MS (or twice the session timeout): another process shares its
   * instance id. Each process then takes the id back on its next commit or heartbeat, so fencing
   * repeats every few hundred milliseconds while messages flow.
   */
  memberReplaced(sessionTimeoutMs: number): boolean {
    const now = Date.now();
    const again =
      this.lastReplacedAt !== undefined &&
      now - this.lastReplacedAt < Math.max(REPLACED_AGAIN_WINDOW_MS, 2 * sessionTimeoutMs);
    this.lastReplacedAt = now;
    if (!again)
      this.log.warn(
        `group ${this.groupId}: the broker dropped this static member and gave it a new member id ` +
          `(a session timeout, or another process with the same KAFKA_GROUP_INSTANCE_ID)`,
      );
    return again;
  }
}
