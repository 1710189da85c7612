import type { Logger } from 'pino';
import type { PConsumer, PlatformaticClient } from './platformatic-client';

/**
 * Keeps a member in its group while it finishes the handlers it runs before rejoining a rebalance,
 * as kafkajs does. @platformatic/kafka asks for the member's protocol metadata
 * (`protocolsMetadata`) before each JoinGroup and waits for the answer; answering only once the
 * handlers in flight are done and their offsets committed makes the member rejoin after them, so
 * the partitions it hands over are committed up to what it handled and the next owner does not read
 * them again. The client stops heartbeating while it prepares the join, so without more the
 * coordinator would drop the member after the session timeout (KAFKA_SESSION_TIMEOUT_MS) of a long
 * handler (a model call) and hand its partitions over while it still works on them: until the
 * handlers are done, this sends the member's Heartbeat itself (the coordinator answers
 * REBALANCE_IN_PROGRESS and keeps the member's session). The rebalance timeout
 * (KAFKA_REBALANCE_TIMEOUT_MS) bounds the whole wait on the broker's side.
 */
export class RebalanceHold {
  constructor(
    private readonly client: PlatformaticClient,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves once `drained` does, heartbeating `consumer`'s current membership every `intervalMs`
   * meanwhile; resolves at once when the consumer is not a member (the client dropped its member
   * id), and as soon as the coordinator answers that it is not one any more (evicted after the
   * rebalance timeout, or fenced), or after `maxMs` (the rebalance timeout: the coordinator has
   * evicted it by then): the partitions are another member's already, and the batches still in
   * flight could not commit before the member rejoins (their commits fail, and the messages are
   * the next owner's to handle). Any other failed heartbeat is logged at debug and tried again.
   */
  async hold(consumer: PConsumer, drained: Promise<void>, intervalMs: number, maxMs: number): Promise<void> {
    const { groupId, generationId, memberId, groupInstanceId } = consumer;
    if (!memberId) return;
    let done = false;
    const finished = drained.finally(() => (done = true));
    const deadline = Date.now() + maxMs;
    const beat = async (): Promise<boolean> => {
      try {
        const coordinator = await consumer.findGroupCoordinator();
        const connection = (await consumer.connectToBrokers([coordinator])).get(coordinator);
        if (!connection || done) return true;
        await this.client.heartbeatV4.api.async(connection, groupId, generationId, memberId, groupInstanceId);
      } catch (error) {
        // REBALANCE_IN_PROGRESS is the expected answer: the session was kept all the same.
        if (this.client.findErrorBy(error as Error, 'apiId', 'REBALANCE_IN_PROGRESS')) return true;
        for (const gone of ['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID'])
          if (this.client.findErrorBy(error as Error, 'apiId', gone)) {
            this.log.info(
              `group ${groupId}: no longer a member (${gone}); rejoining without waiting for handlers`,
            );
            return false;
          }
        this.log.debug({ err: error, groupId }, 'heartbeat while handlers finish failed');
      }
      return true;
    };
    while (!done && Date.now() < deadline) {
      if (!(await beat())) return;
      await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, intervalMs).unref())]);
    }
  }
}
