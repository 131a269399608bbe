import type { Kafka } from 'kafkajs';

/**
 * A compacted topic followed for as long as the process runs: read from the beginning by a
 * consumer group of its own (a fresh id per follower: every follower sees every record, and none
 * commits), each record handed to `onRecord` in log order per partition. `caughtUp()` resolves
 * once every record written before the call has been handed over (the high watermarks read at the
 * call), which gives a reader its own writes: decide, then list, and the list has the decision.
 * One follower replaces a fresh consumer group per read (a group join and a read of the whole
 * topic each time).
 */
export interface CompactedFollower {
  /** Joins and starts reading; idempotent. */
  start(): Promise<void>;
  /** Resolves when every record up to the current end of the topic was handed to onRecord. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Idempotent; safe before start. */
  stop(): Promise<void>;
}

export type CompactedRecord = { partition: number; offset: string; key: string; value: Buffer | null; headers: Record<string, Buffer | string | undefined> };

export function followCompactedTopic(kafka: Kafka, topic: string, onRecord: (r: CompactedRecord) => void, o: { groupPrefix: string }): CompactedFollower {
  const next = new Map<number, bigint>(); // partition -> next offset not yet handed over
  const waiters = new Set<() => void>();
  const consumer = kafka.consumer({ groupId: `${o.groupPrefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`, maxWaitTimeInMs: 100 });
  const admin = kafka.admin();
  let started: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  const wake = () => {
    for (const w of waiters) w();
  };
  return {
    start() {
      // a start that failed (Kafka away) is tried again by the next call, not remembered as failed
      started ??= (async () => {
        await admin.connect();
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              onRecord({ partition: batch.partition, offset: m.offset, key: m.key?.toString() ?? '', value: m.value, headers: m.headers as CompactedRecord['headers'] });
            }
            // compaction leaves gaps: the batch's last offset, not a count, says how far it read
            next.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
            wake();
          },
        });
      })().catch(async (err: unknown) => {
        started = undefined;
        await consumer.disconnect().catch(() => undefined);
        throw err;
      });
      return started;
    },
    async caughtUp(timeoutMs = 15_000) {
      await this.start();
      const ends = (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)] as const);
      const done = () => ends.every(([p, high]) => (next.get(p) ?? 0n) >= high);
      if (done()) return;
      let timer: NodeJS.Timeout | undefined;
      let waiter: (() => void) | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          waiter = () => done() && resolve();
          waiters.add(waiter);
          timer = setTimeout(() => reject(new Error(`${topic} not read to its end within ${timeoutMs / 1000} s`)), timeoutMs);
        });
      } finally {
        clearTimeout(timer);
        if (waiter) waiters.delete(waiter);
      }
    },
    stop() {
      stopped ??= (async () => {
        if (!started) return;
        await started.catch(() => undefined);
        await consumer.disconnect().catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
      })();
      return stopped;
    },
  };
}
