import type { KafkaMessage } from 'kafkajs';

/** One consumed record, as handlers see it. */
export interface InputRecord {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (offsets exceed 2^53 in theory). */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | undefined>;
  /** epoch ms */
  timestamp: number;
}

export function toInputRecord(topic: string, partition: number, m: KafkaMessage): InputRecord {
  const headers: Record<string, Buffer | string | undefined> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = Array.isArray(v) ? v[0] : v;
  return { topic, partition, offset: m.offset, key: m.key ?? null, value: m.value ?? null, headers, timestamp: Number(m.timestamp) };
}
