import type { Kafka, ITopicConfig } from 'kafkajs';
import { TOPICS } from '@jwt-audit/events';
import type { Logger } from '@jwt-audit/runtime';
import { fromKafkaError } from './errors.js';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configs?: Record<string, string>;
}

const DAY_MS = 86_400_000;

/**
 * The pipeline's topics. raw holds unmasked captures: short retention. revocations is compacted:
 * the latest state per jti/subject is all an interceptor needs to rebuild at start;
 * archive-checkpoints likewise: the newest checkpoint per archive.
 */
export function defaultTopics(partitions = 6): TopicSpec[] {
  return [
    { topic: TOPICS.raw, numPartitions: partitions, configs: { 'retention.ms': String(1 * DAY_MS) } },
    { topic: TOPICS.masked, numPartitions: partitions, configs: { 'retention.ms': String(7 * DAY_MS) } },
    { topic: TOPICS.enriched, numPartitions: partitions, configs: { 'retention.ms': String(7 * DAY_MS) } },
    { topic: TOPICS.alerts, numPartitions: partitions, configs: { 'retention.ms': String(30 * DAY_MS) } },
    { topic: TOPICS.revocations, numPartitions: 1, configs: { 'cleanup.policy': 'compact' } },
    // one step per key: req:<id> (the request), dec:<id>:<approver> (each decision), end:<id> (used, released
    // or expired), use:<id>:<nonce> (an interceptor's claim on a ticket; the first in log order wins): the fold is the approval's state
    { topic: TOPICS.approvals, numPartitions: 1, configs: { 'cleanup.policy': 'compact' } },
    { topic: TOPICS.dlq, numPartitions: 1, configs: { 'retention.ms': String(14 * DAY_MS) } },
    // the newest checkpoint per archive is all a verifier needs; the writer's ACL is produce-only
    { topic: TOPICS.archiveCheckpoints, numPartitions: 1, configs: { 'cleanup.policy': 'compact' } },
    // the newest summary per session (keyed by session id); ended sessions are compacted to their last revision
    { topic: TOPICS.sessions, numPartitions: partitions, configs: { 'cleanup.policy': 'compact' } },
  ];
}

/** Creates the topics that do not exist yet; leaves existing ones as they are. Idempotent. */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[] = defaultTopics(), logger?: Logger): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return [];
    const topics: ITopicConfig[] = missing.map((s) => ({
      topic: s.topic,
      numPartitions: s.numPartitions,
      replicationFactor: -1,
      configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
    }));
    await admin.createTopics({ topics, waitForLeaders: true });
    logger?.info({ topics: missing.map((s) => s.topic) }, 'topics created');
    return missing.map((s) => s.topic);
  } catch (err) {
    throw fromKafkaError(err, 'creating topics');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
