import { Writable } from 'node:stream';
import { logLevel } from '@jwt-audit/kafka';
import { newId } from '@jwt-audit/events';
import { createKafkaClient } from '@jwt-audit/kafka';
import { createLogger, type KafkaConnectionConfig } from '@jwt-audit/runtime';
import { CLI_ERRORS } from './errors.js';

/**
 * Reads the compacted checkpoint topic to its end and returns the newest value per key (archive
 * id -> checkpoint JWS). A throwaway consumer group, nothing committed. Throws when Kafka cannot
 * be reached.
 */
export async function readPublishedCheckpoints(conn: KafkaConnectionConfig, topic: string, timeoutMs = 15_000): Promise<Map<string, string>> {
  const silent = createLogger({ name: 'audit-cli', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  // the services' connection settings: brokers, SASL and TLS from AUDIT_KAFKA_* (connections.ts)
  const kafka = createKafkaClient(conn, silent, { logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 200 }, connectionTimeout: 3_000 });
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const latest = new Map<string, string>();
  const pending = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  if (pending.size === 0) return latest;
  const consumer = kafka.consumer({ groupId: `audit-cli-head-${newId()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const key = message.key?.toString();
        if (key !== undefined) {
          // a null value is a tombstone: the archive's checkpoint was withdrawn
          if (message.value) latest.set(key, message.value.toString());
          else latest.delete(key);
        }
        if (BigInt(message.offset) + 1n >= ends.get(partition)!) {
          pending.delete(partition);
          if (pending.size === 0) done();
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(
            () => reject(CLI_ERRORS.AUDIT_ERR_CLI_UNAVAILABLE.create(`${topic} not read to its end within ${timeoutMs / 1000} s`)),
            timeoutMs,
          )),
      ),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return latest;
}
