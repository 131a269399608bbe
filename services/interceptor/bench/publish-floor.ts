/**
 * The publishing floor: what the interceptor's Kafka client alone costs to publish the
 * interceptor's own records, with its producer settings (@jwt-audit/kafka createProducerClient:
 * idempotent, acks all; BENCH_KAFKA_CLIENT, default the interceptor's default client) and its
 * batch size, on a process of its own. No interceptor design that publishes each exchange through
 * that client can spend less than this per request, so it bounds the throughput ratio the
 * benchmark can reach on this machine.
 *
 * Run by proxy-throughput.ts after the interceptor's runs: it reads back up to BENCH_SAMPLE
 * records the interceptor published to audit.raw.v1, then produces BENCH_RECORDS copies of them
 * (same keys, values, headers) to a scratch topic with the same partition count, BENCH_BATCH at
 * a time. Prints one JSON line: records, batch, value bytes, CPU µs per record of this process and
 * (BENCH_BROKER_PID) of the broker, both over the timed sends only.
 */
import { createKafkaClient, createProducerClient, type ProducerClient } from '@jwt-audit/kafka';
import { defaults } from '../src/config.js';
import { TOPICS } from '@jwt-audit/events';
import { cpuMicros } from '../../../scripts/lib/proc-cpu.js';
import { quietLogger } from '../src/testdata/harness.js';

const brokers = [process.env.BENCH_BROKER ?? ''];
const batch = Math.max(1, Math.round(Number(process.env.BENCH_BATCH ?? 50)));
const total = Number(process.env.BENCH_RECORDS ?? 30_000);
const sampleSize = Number(process.env.BENCH_SAMPLE ?? 2_000);
const logger = quietLogger();
const kafka = createKafkaClient({ brokers, clientId: 'bench-floor' }, logger);

interface Sample {
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
}

async function readSample(): Promise<Sample[]> {
  const consumer = kafka.consumer({ groupId: `bench-floor-${process.pid}` });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.raw, fromBeginning: true });
  const sample: Sample[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => (sample.length > 0 ? resolve() : reject(new Error(`no records on ${TOPICS.raw}`))), 10_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          if (sample.length >= sampleSize || !message.value) return;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
          sample.push({ key: message.key, value: message.value, headers });
          if (sample.length >= sampleSize) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return sample;
}

const sample = await readSample();
const admin = kafka.admin();
await admin.connect();
const meta = await admin.fetchTopicMetadata({ topics: [TOPICS.raw] });
const topic = `bench.floor.${process.pid}`;
await admin.createTopics({ topics: [{ topic, numPartitions: meta.topics[0]!.partitions.length }], waitForLeaders: true });
await admin.disconnect();

const client = (process.env.BENCH_KAFKA_CLIENT ?? defaults.queue.client ?? 'platformatic') as ProducerClient;
const producer = createProducerClient({ brokers, clientId: 'bench-floor' }, { client, logger });
await producer.connect();
let next = 0;
const take = () => Array.from({ length: batch }, () => sample[next++ % sample.length]!);
for (let i = 0; i < 100; i++) await producer.send(topic, take()); // JIT, connection, producer id
const cpuOf = (pid: number): number => (pid ? cpuMicros(pid) : 0);
const brokerPid = Number(process.env.BENCH_BROKER_PID ?? 0);
const brokerBefore = cpuOf(brokerPid);
const before = process.cpuUsage();
let sent = 0;
for (; sent < total; sent += batch) await producer.send(topic, take());
const cpu = process.cpuUsage(before);
const brokerCpu = cpuOf(brokerPid) - brokerBefore;
await producer.disconnect();
const valueBytes = sample.reduce((n, s) => n + s.value.length, 0) / sample.length;
process.stdout.write(
  JSON.stringify({
    client,
    records: sent,
    batch,
    valueBytes: Math.round(valueBytes),
    headers: Object.keys(sample[0]!.headers).length,
    cpuPerRecord: (cpu.user + cpu.system) / sent,
    brokerPerRecord: brokerCpu / sent,
  }) + '\n',
);
