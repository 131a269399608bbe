/**
 * One Kafka client publishing, in a process of its own (run by client-floor.ts): BENCH_CLIENT
 * `kafkajs-idempotent` (our createAuditProducer: idempotent, acks all, one request in flight),
 * `platformatic-idempotent` (our createPlatformaticProducer: the same contract on
 * @platformatic/kafka), `kafkajs` (kafkajs, acks all, not idempotent) or `platformatic`
 * (@platformatic/kafka used directly, acks all, not idempotent). Sends BENCH_RECORDS records of BENCH_VALUE_BYTES bytes with 2 headers
 * (as the interceptor's), BENCH_BATCH per send, keyed over 1,000 subjects, to BENCH_TOPIC, one
 * send after another. Prints one JSON line: records, CPU µs per record of this process and of
 * the broker (BENCH_BROKER_PID), wall time; all over the timed sends only.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Producer as PlatformaticProducer, ProduceAcks } from '@platformatic/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { cpuMicros } from '../../../scripts/lib/proc-cpu.js';
import { createAuditProducer, createKafkaClient, createPlatformaticProducer, Partitioners, type OutRecord } from '../src/index.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const client = env('BENCH_CLIENT');
const brokers = [env('BENCH_BROKER')];
const topic = env('BENCH_TOPIC');
const total = Number(env('BENCH_RECORDS'));
const batch = Number(env('BENCH_BATCH'));
const valueBytes = Number(env('BENCH_VALUE_BYTES'));
const brokerPid = Number(env('BENCH_BROKER_PID'));
const logger = createLogger({ name: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

// the same records for every client: 64 distinct values, keys over 1,000 subjects, 2 headers
const values = Array.from({ length: 64 }, () => randomBytes(valueBytes));
const headers = { 'audit-schema-version': '2', 'audit-schema-fingerprint': 'f3a1c2d4e5b6a7980112233445566778' };
const record = (i: number): OutRecord => ({ key: `sub:user-${i % 1000}`, value: values[i % values.length]!, headers });

type Send = (records: OutRecord[]) => Promise<unknown>;
let send: Send;
let close: () => Promise<void>;
if (client === 'kafkajs-idempotent') {
  const p = createAuditProducer(createKafkaClient({ brokers, clientId: 'bench-kafkajs-idempotent' }, logger), { logger });
  await p.connect();
  send = (records) => p.send(topic, records);
  close = () => p.disconnect();
} else if (client === 'platformatic-idempotent') {
  const p = createPlatformaticProducer({ brokers, clientId: 'bench-platformatic-idempotent' }, { logger });
  await p.connect();
  send = (records) => p.send(topic, records);
  close = () => p.disconnect();
} else if (client === 'kafkajs') {
  const p = createKafkaClient({ brokers, clientId: 'bench-kafkajs' }, logger).producer({
    idempotent: false,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await p.connect();
  send = (records) => p.send({ topic, acks: -1, messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
  close = () => p.disconnect();
} else if (client === 'platformatic') {
  const p = new PlatformaticProducer({ clientId: 'bench-platformatic', bootstrapBrokers: brokers, idempotent: false, acks: ProduceAcks.ALL });
  // its default serializers take Buffers for keys, values and headers alike
  const hb = new Map(Object.entries(headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
  send = (records) => p.send({ messages: records.map((r) => ({ topic, key: Buffer.from(r.key as string), value: r.value as Buffer, headers: hb })) });
  close = () => p.close();
} else {
  throw new Error(`BENCH_CLIENT must be kafkajs-idempotent, platformatic-idempotent, kafkajs or platformatic, not ${client}`);
}

let next = 0;
const take = () => Array.from({ length: batch }, () => record(next++));
for (let i = 0; i < 100; i++) await send(take()); // JIT, connections, metadata
const warm = next;
const brokerBefore = cpuMicros(brokerPid);
const before = process.cpuUsage();
const started = performance.now();
let sent = 0;
for (; sent < total; sent += batch) await send(take());
const wallMs = performance.now() - started;
const cpu = process.cpuUsage(before);
const brokerCpu = cpuMicros(brokerPid) - brokerBefore;
await close();
process.stdout.write(
  JSON.stringify({
    client,
    records: sent,
    produced: sent + warm,
    batch,
    cpuPerRecord: (cpu.user + cpu.system) / sent,
    brokerPerRecord: brokerCpu / sent,
    recordsPerSecond: Math.round((sent * 1000) / wallMs),
  }) + '\n',
);
