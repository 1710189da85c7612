// Topic creation shared by infra/create-topics.mjs and the benches.

/**
 * Creates those of `configs` (kafkajs `ITopicConfig`: `{topic, numPartitions, configEntries?}`)
 * that do not exist yet, then waits until every partition of each has a leader.
 *
 * kafkajs' own `waitForLeaders` gives up on UNKNOWN_TOPIC_OR_PARTITION, which a busy KRaft broker
 * answers for a moment after creating many partitions (seen with 12 partitions per topic on a
 * loaded 2-core machine); this polls the metadata instead until `timeoutMs`.
 *
 * @param {import('kafkajs').Admin} admin a connected admin client
 * @param {import('kafkajs').ITopicConfig[]} configs topics to have
 * @param {{timeoutMs?: number}} [options] how long to wait for leaders, in ms (default 60000)
 * @returns {Promise<{created: string[], fewerPartitions: {topic: string, has: number, wants: number}[]}>}
 *   the topics this call created, and the existing ones with fewer partitions than `configs` asks
 *   (left as they are: adding partitions moves keys, so it is the operator's call)
 * @throws {Error} naming the topics that still have a partition without a leader after `timeoutMs`
 */
export async function createTopicsAndWait(admin, configs, { timeoutMs = 60_000 } = {}) {
  const existing = new Set(await admin.listTopics());
  const missing = configs.filter((c) => !existing.has(c.topic));
  // Resolves false when another process created them first, which is the outcome wanted.
  if (missing.length > 0) await admin.createTopics({ waitForLeaders: false, topics: missing });
  const names = configs.map((c) => c.topic);
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: names });
      const leaderless = names.filter((name) => {
        const found = topics.find((t) => t.name === name);
        return !found || found.partitions.length === 0 || found.partitions.some((p) => p.leader < 0);
      });
      if (leaderless.length === 0) {
        const fewerPartitions = configs
          .filter((c) => existing.has(c.topic) && c.numPartitions !== undefined)
          .map((c) => ({
            topic: c.topic,
            has: topics.find((t) => t.name === c.topic)?.partitions.length ?? 0,
            wants: c.numPartitions,
          }))
          .filter((t) => t.has < t.wants);
        return { created: missing.map((c) => c.topic), fewerPartitions };
      }
      lastError = new Error(`no leader yet for ${leaderless.slice(0, 3).join(', ')}`);
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `topics not ready after ${timeoutMs} ms: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
