/**
 * kafkajs producer -> embedded broker -> kafkajs consumer, 1 KiB records in batches of 1,000,
 * against a plain TCP echo of the same bytes on loopback (the ceiling), in the same run.
 *   npm run bench -w packages/embedded-kafka            (BENCH_RECORDS=200000 by default)
 * Prints a table and a JSON line.
 */
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
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
  await admin.disconnect();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });

  const row = (name: string, secs: number) => ({ name, recordsPerSec: Math.round(RECORDS / secs), mbPerSec: +(MB / secs).toFixed(1), ofEcho: +(echoSecs / secs).toFixed(3) });
  const rows = [row('tcp echo (ceiling)', echoSecs), row('produce (acks all, idempotent)', produceSecs), row('consume (group, from beginning)', consumeSecs)];
  console.log(`records=${RECORDS} size=${SIZE}B batch=${BATCH}`);
  for (const r of rows) console.log(`${r.name.padEnd(34)} ${String(r.recordsPerSec).padStart(9)} rec/s ${String(r.mbPerSec).padStart(8)} MB/s  ${r.ofEcho}x echo`);
  console.log(JSON.stringify({ bench: 'embedded-kafka-throughput', records: RECORDS, rows }));
}

await main();
