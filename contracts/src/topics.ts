/** Pipeline stages; each is one service and one consumer group. */
export const STAGES = ['router', 'retriever', 'generator', 'validator', 'auditor'] as const;
export type Stage = (typeof STAGES)[number];

export interface TopicSpec {
  /** Versioned topic name without any namespace prefix. */
  readonly name: string;
  readonly partitions: number;
  readonly retentionMs: number;
  readonly cleanupPolicy: 'delete' | 'compact';
  /** What the topic carries, for documentation and the AsyncAPI document. */
  readonly description: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Partitions of the request-path topics: the most replicas of one stage that all get work. 12
 * splits evenly over 1, 2, 3, 4, 6 and 12 replicas (with 6, four replicas got 2, 2, 1 and 1
 * partitions and scaling 1 to 4 was capped at 75 %).
 */
export const REQUEST_PATH_PARTITIONS = 12;

function topic(
  name: string,
  description: string,
  retentionDays = 7,
  partitions = REQUEST_PATH_PARTITIONS,
): TopicSpec {
  return { name, partitions, retentionMs: retentionDays * DAY_MS, cleanupPolicy: 'delete', description };
}

/** Every topic of the platform. Breaking payload changes get a new version (`.v2`), served side by side. */
export const Topics = {
  Request: topic('orchestration.request.v1', 'Requests submitted by upstream systems or the HTTP ingress.'),
  Routed: topic('orchestration.routed.v1', 'Requests with their workflow, model tier and budget chosen.'),
  Retrieved: topic('orchestration.retrieved.v1', 'Requests with the passages retrieved for them.'),
  Generated: topic('orchestration.generated.v1', 'Model outputs awaiting validation.'),
  Regenerate: topic('orchestration.regenerate.v1', 'Retries of generation with a stricter instruction.'),
  Result: topic('orchestration.result.v1', 'Final outcomes: completed or failed, one per request.', 30),
  Review: topic(
    'orchestration.review.v1',
    'Outputs escalated to human review, and high-risk tool calls waiting for approval.',
    30,
  ),
  ReviewDecision: topic('orchestration.review-decision.v1', 'Decisions taken by human reviewers.', 30),
  ToolCalls: topic(
    'orchestration.tool-calls.v1',
    "Each request's tool-loop rounds: calls a model asked for, then their results, before the model sees them.",
    30,
  ),
  DocumentIngest: topic('documents.ingest.v1', 'Documents to chunk, embed and index.'),
  DocumentIndexed: topic('documents.indexed.v1', 'Outcomes of document ingestion and deletion.'),
  ModelCalls: topic(
    'orchestration.model-calls.v1',
    'Usage of every billed model call, one event per call (duplicates by redelivery included).',
    30,
  ),
  Stream: topic(
    'orchestration.stream.v1',
    'Draft pieces of model output while it is written, for the HTTP stream endpoint; not audited.',
    1,
  ),
} as const satisfies Record<string, TopicSpec>;

/** The dead-letter topic of each stage: invalid or undeliverable events it consumed, with the reason. */
export const DeadLetterTopics: Readonly<Record<Stage, TopicSpec>> = Object.fromEntries(
  STAGES.map((stage) => [
    stage,
    topic(
      `orchestration.dead-letter.${stage}.v1`,
      `Events the ${stage} could not process, with the reason.`,
      30,
      1,
    ),
  ]),
) as Record<Stage, TopicSpec>;

/** Stages that hand events they could not process yet to delayed retry topics (the auditor redelivers instead). */
export const RETRYING_STAGES = ['router', 'retriever', 'generator', 'validator'] as const;
export type RetryingStage = (typeof RETRYING_STAGES)[number];

/** How many delayed retry rounds (one topic each) a stage has before its dead-letter topic. */
export const RETRY_ROUNDS = 3;

/**
 * The delayed retry topics of each retrying stage, round 1 first. A message a stage could not
 * process after its in-process attempts (a transient fault) is copied, headers and value as
 * received, to the topic of its next round, and the stage reads it again once its delay has passed
 * (see the bus's retry-topic rules); after the last round it is dead-lettered. Every message in a
 * round's topic waits about the same delay, so waiting for the oldest never holds a younger one
 * back for longer than the round's delay.
 */
export const RetryTopics: Readonly<Record<RetryingStage, readonly TopicSpec[]>> = Object.fromEntries(
  RETRYING_STAGES.map((stage) => [
    stage,
    Array.from({ length: RETRY_ROUNDS }, (_, i) =>
      topic(
        `orchestration.retry.${stage}.r${i + 1}.v1`,
        `Events the ${stage} retries after a delay (round ${i + 1} of ${RETRY_ROUNDS}), as received, with retry headers.`,
        7,
        6,
      ),
    ),
  ]),
) as unknown as Record<RetryingStage, readonly TopicSpec[]>;

/** All topics, in a stable order: the registry from which infrastructure creates them. */
export const TOPICS: readonly TopicSpec[] = [
  ...Object.values(Topics),
  ...Object.values(DeadLetterTopics),
  ...Object.values(RetryTopics).flat(),
];

const RETRY_TOPIC_NAMES: ReadonlySet<string> = new Set(
  Object.values(RetryTopics)
    .flat()
    .map((t) => t.name),
);

/** True when a logical (unprefixed) topic name is one of the delayed retry topics. */
export function isRetryTopic(name: string): boolean {
  return RETRY_TOPIC_NAMES.has(name);
}

/**
 * True for topics of transient drafts (the stream topic): `*` subscriptions (the auditor) do not
 * read them, and nothing in them is part of a request's outcome.
 */
export function isStreamTopic(name: string): boolean {
  return name === Topics.Stream.name;
}

/** The retry topics of a stage, round 1 first; empty for a stage that does not retry through topics. */
export function retryTopicsOf(stage: Stage): readonly TopicSpec[] {
  return (RETRYING_STAGES as readonly string[]).includes(stage) ? RetryTopics[stage as RetryingStage] : [];
}

/**
 * Physical topic name under an optional namespace prefix. Tests use a prefix per test so that
 * they never share topics; production runs with no prefix.
 */
export function topicName(spec: TopicSpec | string, prefix = ''): string {
  return `${prefix}${typeof spec === 'string' ? spec : spec.name}`;
}
