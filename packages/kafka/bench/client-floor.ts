/**
 * The publishing floor of each Kafka client (issue #21 item 3): the two AuditProducers, kafkajs
 * (createAuditProducer) and @platformatic/kafka 1.x (createPlatformaticProducer), both idempotent
 * as the pipeline uses them, and each client bare without idempotence; each publishing the same records (the interceptor's size, 2
 * headers) in the same batch sizes to the embedded broker, each client and the broker in
 * processes of their own, rounds alternating clients. Per client and batch size: CPU µs per
 * record of the client and of the broker (the best round: noise on a shared machine only adds),
 * and records/s of one send after another. Every record each client said it produced is counted
 * on the broker afterwards, and one is read back through kafkajs to check key, value and headers.
 *
 *   npm run bench -w packages/kafka
 *   BENCH_RECORDS=50000 BENCH_ROUNDS=3 BENCH_BATCHES=50,320 npm run bench -w packages/kafka
 *   BENCH_CLIENTS=kafkajs-idempotent,platformatic-idempotent npm run bench -w packages/kafka
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { createLogger } from '@jwt-audit/runtime';
import { createKafkaClient } from '../src/index.js';

const records = Number(process.env.BENCH_RECORDS ?? 30_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const batches = (process.env.BENCH_BATCHES ?? '50,320').split(',').map(Number);
const valueBytes = Number(process.env.BENCH_VALUE_BYTES ?? 680);
const clients = (process.env.BENCH_CLIENTS ?? 'kafkajs-idempotent,platformatic-idempotent,kafkajs,platformatic').split(',');
const progress = (s: string) => process.stderr.write(`${s}\n`);
const logger = createLogger({ name: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
const dir = await mkdtemp(path.join(tmpdir(), 'client-floor-'));
const port = await freePort();
const brokerProc = spawn(
  process.execPath,
  [
    '--conditions=source',
    '--import',
    'tsx',
    fileURLToPath(new URL('../../embedded-kafka/src/bin.ts', import.meta.url)),
    '--dir',
    path.join(dir, 'kafka'),
    '--port',
    String(port),
  ],
  { stdio: 'ignore' },
);
const broker = `127.0.0.1:${port}`;
const kafka = createKafkaClient({ brokers: [broker], clientId: 'bench-floor' }, logger, { retry: { retries: 20, initialRetryTime: 200 } });
const admin = kafka.admin();
await admin.connect();

interface Result {
  client: string;
  records: number;
  produced: number;
  batch: number;
  cpuPerRecord: number;
  brokerPerRecord: number;
  recordsPerSecond: number;
}
function worker(client: string, topic: string, batch: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', fileURLToPath(new URL('./client-worker.ts', import.meta.url))], {
      env: {
        ...process.env,
        BENCH_CLIENT: client,
        BENCH_BROKER: broker,
        BENCH_TOPIC: topic,
        BENCH_RECORDS: String(records),
        BENCH_BATCH: String(batch),
        BENCH_VALUE_BYTES: String(valueBytes),
        BENCH_BROKER_PID: String(brokerProc.pid),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let line: string | undefined;
    createInterface({ input: proc.stdout! }).on('line', (l) => (line = l));
    proc.once('exit', (code) => (code === 0 && line ? resolve(JSON.parse(line) as Result) : reject(new Error(`${client} exited ${code}`))));
  });
}

const results: Result[] = [];
const checks: string[] = [];
let n = 0;
for (let round = 1; round <= rounds; round++) {
  for (const batch of batches) {
    for (const client of clients) {
      const topic = `bench.floor.${n++}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
      progress(`round ${round}/${rounds}: ${client}, batches of ${batch}, ${records} records`);
      const r = await worker(client, topic, batch);
      const onBroker = (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
      if (onBroker !== r.produced) throw new Error(`${client}: said it produced ${r.produced} records, the broker has ${onBroker}`);
      if (round === 1) checks.push(`${client}, batches of ${batch}: ${onBroker} records on the broker, as produced; ${await readBack(topic)}`);
      results.push(r);
    }
  }
}

/** One record read back through kafkajs: the key, value size and headers as sent. */
async function readBack(topic: string): Promise<string> {
  const consumer = kafka.consumer({ groupId: `bench-floor-check-${topic}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = await new Promise<{ key: string; bytes: number; headers: Record<string, string> }>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) =>
        resolve({
          key: String(message.key),
          bytes: message.value?.length ?? 0,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        }),
    });
  });
  await consumer.disconnect();
  const ok =
    /^sub:user-\d+$/.test(got.key) &&
    got.bytes === valueBytes &&
    got.headers['audit-schema-version'] === '2' &&
    got.headers['audit-schema-fingerprint']?.length === 32;
  if (!ok) throw new Error(`${topic}: read back ${JSON.stringify(got)}`);
  return 'a record read back with kafkajs has its key, value and headers';
}

const best = (client: string, batch: number) =>
  results
    .filter((r) => r.client === client && r.batch === batch)
    .reduce((a, b) => (b.cpuPerRecord + b.brokerPerRecord < a.cpuPerRecord + a.brokerPerRecord ? b : a));
const lines = [
  `node ${process.version}, ${records} records of ${valueBytes} bytes with 2 headers per run, ${rounds} rounds (best shown), load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
  '| client | batch | CPU µs per record: client | broker | records/s, one send after another |',
  '| --- | --- | --- | --- | --- |',
];
for (const batch of batches) {
  for (const client of clients) {
    const r = best(client, batch);
    lines.push(`| ${client} | ${batch} | ${r.cpuPerRecord.toFixed(1)} | ${r.brokerPerRecord.toFixed(1)} | ${r.recordsPerSecond} |`);
  }
}
const has = (c: string) => clients.includes(c);
for (const batch of batches) {
  if (has('kafkajs-idempotent') && has('platformatic-idempotent')) {
    const k = best('kafkajs-idempotent', batch);
    const p = best('platformatic-idempotent', batch);
    lines.push(
      `batches of ${batch}, both idempotent (the AuditProducers): @platformatic/kafka spends ${(p.cpuPerRecord / k.cpuPerRecord).toFixed(2)}x kafkajs's client CPU per record, the broker ${(p.brokerPerRecord / k.brokerPerRecord).toFixed(2)}x`,
    );
  }
  if (has('kafkajs') && has('platformatic')) {
    lines.push(
      `batches of ${batch}, bare, not idempotent: @platformatic/kafka ${(best('platformatic', batch).cpuPerRecord / best('kafkajs', batch).cpuPerRecord).toFixed(2)}x kafkajs`,
    );
  }
}
lines.push(...checks);
process.stdout.write(lines.join('\n') + '\n');
await admin.disconnect();
brokerProc.kill('SIGTERM');
await new Promise((r) => brokerProc.once('exit', r));
await rm(dir, { recursive: true, force: true });
