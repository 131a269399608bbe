/**
 * Incremental fetch sessions (KIP-227), as Kafka 3.9's FetchManager / FetchSession.scala:
 *   session_id 0, epoch 0: a full fetch that creates a session (its id is answered, the next
 *     epoch is 1); epoch -1 (FINAL): a full fetch without a session. A full fetch naming a
 *     session closes it first.
 *   session_id N, epoch E > 0: an incremental fetch: the request carries only the partitions added
 *     or changed (offset, max bytes) and the forgotten ones; the broker fetches every partition of
 *     the session and answers only those with records, a new high watermark or log start offset,
 *     or an error. An unknown id is FETCH_SESSION_ID_NOT_FOUND, another epoch
 *     INVALID_FETCH_SESSION_EPOCH, a session created with topic ids (v13+) used by an older version
 *     (or the reverse) FETCH_SESSION_TOPIC_ID_ERROR. A session left with no partitions is closed
 *     (the answer carries session id 0).
 * The cache holds `maxSessions` (Kafka: max.incremental.fetch.session.cache.slots, 1,000); when it
 * is full the least recently used session is evicted (Kafka's eviction also weighs partition
 * counts and privileged followers; there are no followers here).
 */
import { randomInt } from 'node:crypto';

export interface SessionPartition {
  topic: string;
  topicId: string | null;
  partition: number;
  offset: number;
  maxBytes: number;
  /** What the client last heard: -1 after an error, so the partition is sent again when it clears. */
  highWatermark: number;
  logStartOffset: number;
}

export interface FetchSession {
  id: number;
  epoch: number;
  usesTopicIds: boolean;
  /** In the order the client added them. */
  partitions: Map<string, SessionPartition>;
}

export const sessionKey = (topic: string, topicId: string | null, partition: number) => `${topicId ?? topic}\u0000${partition}`;

/** Kafka's FetchMetadata.nextEpoch: 1, 2, ... INT32_MAX, then 1 again. */
export const nextEpoch = (epoch: number) => (epoch >= 0x7fffffff ? 1 : epoch + 1);

export class FetchSessionCache {
  /** Map order is recency: a session used is moved to the end. */
  private readonly sessions = new Map<number, FetchSession>();
  constructor(readonly maxSessions = 1000) {}

  get(id: number): FetchSession | undefined {
    const s = this.sessions.get(id);
    if (s) {
      this.sessions.delete(id);
      this.sessions.set(id, s);
    }
    return s;
  }

  remove(id: number): boolean {
    return this.sessions.delete(id);
  }

  /** A new session at epoch 1, or null when sessions are disabled (maxSessions 0). */
  create(usesTopicIds: boolean, partitions: Map<string, SessionPartition>): FetchSession | null {
    if (this.maxSessions <= 0) return null;
    while (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    let id: number;
    do id = randomInt(1, 0x7fffffff);
    while (this.sessions.has(id));
    const s: FetchSession = { id, epoch: nextEpoch(0), usesTopicIds, partitions };
    this.sessions.set(id, s);
    return s;
  }

  get size(): number {
    return this.sessions.size;
  }
}
