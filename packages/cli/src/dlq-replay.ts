import type { Kafka } from '@jwt-audit/kafka';
import { deadLetterCodec, newId, TOPICS, type DeadLetter } from '@jwt-audit/events';
import { createAuditProducer, fromKafkaError, type OutRecord } from '@jwt-audit/kafka';
import type { Logger } from '@jwt-audit/runtime';
import { CLI_ERRORS } from './errors.js';

/** What a dead letter's own header says its payload is (the masker's dlqPayload); none: the original bytes. */
export const HEADER_DLQ_PAYLOAD = 'audit-dlq-payload';
/** Set on every record `audit dlq replay` re-injects: the id of the dead letter it came from. */
const HEADER_REPLAYED_FROM = 'audit-replayed-from';

export interface ReplayFilter {
  /** Origin topic (where the record is re-injected). */
  topic?: string;
  stage?: string;
  code?: string;
  /** Substring of the reason, case-insensitive. */
  reason?: string;
  /** DLQ offsets, inclusive. */
  fromOffset?: number;
  toOffset?: number;
}

export type ReplayAction = 'replayed' | 'would_replay' | 'not_replayable';

export interface ReplayedLetter {
  dlqPartition: number;
  dlqOffset: number;
  id: string;
  stage: string;
  code: string;
  reason: string;
  originTopic: string;
  originPartition: number;
  originOffset: number;
  action: ReplayAction;
  /** Why a letter cannot be replayed: its payload was dropped or masked, or it is not a dead letter. */
  why?: string;
}

export interface ReplayReport {
  dryRun: boolean;
  /** Dead letters read (the DLQ up to its end when the replay started). */
  read: number;
  matched: number;
  replayed: number;
  notReplayable: number;
  letters: ReplayedLetter[];
}

const matches = (d: DeadLetter, f: ReplayFilter): boolean =>
  (f.topic === undefined || d.originTopic === f.topic) &&
  (f.stage === undefined || d.stage === f.stage) &&
  (f.code === undefined || d.code === f.code) &&
  (f.reason === undefined || d.reason.toLowerCase().includes(f.reason.toLowerCase()));

/**
 * Reads audit.dlq.v1 from its start to the end it had when called (a throwaway consumer group,
 * nothing committed) and re-injects every matching dead letter into its origin topic: the original
 * key, headers and bytes, plus `audit-replayed-from: <letter id>`. The stages then process them
 * like any record (every sink is idempotent by event id). Letters whose payload was dropped or
 * masked are reported as not replayable, never re-injected.
 */
export async function replayDeadLetters(
  kafka: Kafka,
  logger: Logger,
  filter: ReplayFilter,
  opts: { dryRun: boolean; limit?: number; readTimeoutMs?: number },
): Promise<ReplayReport> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  let empty: Set<number>;
  try {
    const offsets = await admin.fetchTopicOffsets(TOPICS.dlq);
    ends = new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
    // nothing to read where retention left no record (low = high): no batch would ever come
    empty = new Set(offsets.filter((p) => BigInt(p.high) <= BigInt(p.low)).map((p) => p.partition));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const letters: Array<{ record: OutRecord; topic: string; letter: ReplayedLetter }> = [];
  const report: ReplayReport = { dryRun: opts.dryRun, read: 0, matched: 0, replayed: 0, notReplayable: 0, letters: [] };
  const pending = new Set([...ends.keys()].filter((p) => !empty.has(p)));
  if (pending.size > 0) {
    const consumer = kafka.consumer({ groupId: `audit-dlq-replay-${newId()}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [TOPICS.dlq], fromBeginning: true });
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (done = resolve));
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const end = ends.get(batch.partition) ?? 0n;
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset >= end) break;
            report.read++;
            const inRange =
              (filter.fromOffset === undefined || offset >= BigInt(filter.fromOffset)) && (filter.toOffset === undefined || offset <= BigInt(filter.toOffset));
            const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, v === undefined ? undefined : Array.isArray(v) ? v[0] : v]));
            let d: DeadLetter;
            try {
              d = deadLetterCodec.decode(m.value!, headers);
            } catch (err) {
              if (inRange && filter.topic === undefined && filter.stage === undefined && filter.code === undefined && filter.reason === undefined) {
                report.matched++;
                report.notReplayable++;
                report.letters.push({
                  dlqPartition: batch.partition,
                  dlqOffset: Number(offset),
                  id: '',
                  stage: '',
                  code: '',
                  reason: '',
                  originTopic: '',
                  originPartition: -1,
                  originOffset: -1,
                  action: 'not_replayable',
                  why: `not a dead letter: ${(err as Error).message}`,
                });
              }
              continue;
            }
            if (!inRange || !matches(d, filter) || (opts.limit !== undefined && report.matched >= opts.limit)) continue;
            report.matched++;
            const kind = headers[HEADER_DLQ_PAYLOAD]?.toString() ?? 'raw';
            const letter: ReplayedLetter = {
              dlqPartition: batch.partition,
              dlqOffset: Number(offset),
              id: d.id,
              stage: d.stage,
              code: d.code,
              reason: d.reason,
              originTopic: d.originTopic,
              originPartition: d.originPartition,
              originOffset: d.originOffset,
              action: opts.dryRun ? 'would_replay' : 'replayed',
            };
            if (d.payload === null || kind !== 'raw') {
              letter.action = 'not_replayable';
              letter.why =
                d.payload === null
                  ? 'its payload was dropped (dlqPayload: drop)'
                  : `its payload was kept ${kind} (dlqPayload: ${kind}), not as the original bytes`;
              report.notReplayable++;
            } else {
              letters.push({
                topic: d.originTopic,
                letter,
                record: { key: d.originKey, value: d.payload, headers: { ...d.originHeaders, [HEADER_REPLAYED_FROM]: d.id } },
              });
            }
            report.letters.push(letter);
          }
          if (batch.messages.length > 0 && BigInt(batch.lastOffset()) + 1n >= end) pending.delete(batch.partition);
          if (pending.size === 0) done();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(CLI_ERRORS.AUDIT_ERR_CLI_UNAVAILABLE.create(`reading ${TOPICS.dlq} did not reach its end in ${opts.readTimeoutMs ?? 60_000} ms`)),
          opts.readTimeoutMs ?? 60_000,
        );
      });
      try {
        await Promise.race([finished, timeout]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }
  if (!opts.dryRun && letters.length > 0) {
    const producer = createAuditProducer(kafka, { logger });
    await producer.connect();
    try {
      // by origin topic, in DLQ order: one subject's records go back in the order they failed
      for (const topic of new Set(letters.map((l) => l.topic))) {
        const mine = letters.filter((l) => l.topic === topic);
        await producer
          .send(
            topic,
            mine.map((l) => l.record),
          )
          .catch((err: unknown) => {
            throw fromKafkaError(err, `re-injecting ${mine.length} records into ${topic}`);
          });
        report.replayed += mine.length;
      }
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }
  return report;
}
