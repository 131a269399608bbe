/**
 * kafkajs producer -> embedded broker -> kafkajs consumer, 1 KiB records in batches of 1,000,
 * then the same through kcat (librdkafka, a separate process: produce with acks=all and
 * idempotence, consume from the beginning to the end), against a plain TCP echo of the same bytes
 * on loopback (the ceiling), in the same run. Without kcat on the PATH its rows are left out.
 *   npm run bench -w packages/embedded-kafka            (BENCH_RECORDS=200000 by default)
 * Prints a table and a JSON line.
 */
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker } from '../src/index.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const BATCH = 1_000;
const SIZE = 1_024;
const MB = (RECORDS * SIZE) / 1e6;
const payload = Buffer.alloc(SIZE, 'a');

async function echoBaseline(): Promise<number> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const chunk = Buffer.alloc(BATCH * SIZE, 'a');
  const start = process.hrtime.bigint();
  for (let sent = 0; sent < RECORDS; sent += BATCH) {
    // request/response like a produce with acks: wait for the whole chunk to come back
    await new Promise<void>((resolve) => {
      let got = 0;
      const onData = (d: Buffer) => {
        got += d.length;
        if (got >= chunk.length) {
          sock.off('data', onData);
          resolve();
        }
      };
      sock.on('data', onData);
      sock.write(chunk);
    });
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  sock.destroy();
  server.close();
  return secs;
}

/** Runs kcat with stdin from `input` (or nothing); resolves with its wall time in seconds. */
function kcat(args: string[], input?: string): Promise<number> {
  const stdin = input ? openSync(input, 'r') : 'ignore';
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: [stdin, 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (typeof stdin === 'number') closeSync(stdin);
      if (code !== 0) reject(new Error(`kcat ${args.join(' ')} exited ${code}`));
      else resolve(Number(process.hrtime.bigint() - start) / 1e9);
    });
  });
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ekafka-bench-'));
  const broker = await startBroker({ dir, port: 0, fsync: 'interval' });
  const kafka = new Kafka({ brokers: [broker.address], clientId: 'bench', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'bench', numPartitions: 1 }] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = Array.from({ length: BATCH }, () => ({ value: payload }));

  const echoSecs = await echoBaseline();

  let t = process.hrtime.bigint();
  for (let sent = 0; sent < RECORDS; sent += BATCH) {
    await producer.send({ topic: 'bench', acks: -1, messages });
    if ((sent / BATCH) % 50 === 0) process.stderr.write(`\rproduced ${sent}/${RECORDS}`);
  }
  const produceSecs = Number(process.hrtime.bigint() - t) / 1e9;
  process.stderr.write('\n');

  const consumer = kafka.consumer({ groupId: 'bench', maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 64 * 1024 * 1024, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'bench', fromBeginning: true });
  let consumed = 0;
  t = process.hrtime.bigint();
  const consumeSecs = await new Promise<number>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        consumed += batch.messages.length;
        if (consumed >= RECORDS) resolve(Number(process.hrtime.bigint() - t) / 1e9);
      },
    });
  });
  await consumer.disconnect();
  await producer.disconnect();

  const hasKcat = spawnSync('kcat', ['-V']).status === 0;
  let kcatProduceSecs = 0;
  let kcatConsumeSecs = 0;
  if (hasKcat) {
    await admin.createTopics({ topics: [{ topic: 'bench-kcat', numPartitions: 1 }] });
    const input = path.join(dir, 'records.txt');
    writeFileSync(input, `${'a'.repeat(SIZE)}\n`.repeat(RECORDS));
    const common = ['-b', broker.address, '-t', 'bench-kcat', '-q'];
    kcatProduceSecs = await kcat(
      ['-P', ...common, '-X', 'acks=all', '-X', 'enable.idempotence=true', '-X', 'linger.ms=5', '-X', 'batch.num.messages=1000'],
      input,
    );
    kcatConsumeSecs = await kcat(['-C', ...common, '-o', 'beginning', '-e', '-f', '%o\n']);
  } else {
    process.stderr.write('kcat not found: its rows are left out (apt-get install -y kcat)\n');
  }
  await admin.disconnect();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });

  const row = (name: string, secs: number) => ({
    name,
    recordsPerSec: Math.round(RECORDS / secs),
    mbPerSec: +(MB / secs).toFixed(1),
    ofEcho: +(echoSecs / secs).toFixed(3),
  });
  const rows = [
    row('tcp echo (ceiling)', echoSecs),
    row('kafkajs produce (acks all, idempotent)', produceSecs),
    row('kafkajs consume (group, from beginning)', consumeSecs),
  ];
  if (hasKcat) rows.push(row('kcat produce (acks all, idempotent)', kcatProduceSecs), row('kcat consume (from beginning to end)', kcatConsumeSecs));
  console.log(`records=${RECORDS} size=${SIZE}B batch=${BATCH}`);
  for (const r of rows)
    console.log(`${r.name.padEnd(40)} ${String(r.recordsPerSec).padStart(9)} rec/s ${String(r.mbPerSec).padStart(8)} MB/s  ${r.ofEcho}x echo`);
  console.log(JSON.stringify({ bench: 'embedded-kafka-throughput', records: RECORDS, rows }));
}

await main();
