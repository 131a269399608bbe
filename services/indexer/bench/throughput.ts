/**
 * Events/s from audit.enriched.v1 to searchable documents on the embedded parts, and the
 * indexer's share of CPU. The broker and the search node run as child processes (their CLIs), the
 * indexer in this process, so CPU is measured per process (/proc/<pid>/stat for the children,
 * process.cpuUsage() here). Baseline in the same run: a pass-through consumer group reading the
 * same records with the same runner and doing nothing with them.
 *   npm run bench -w services/indexer          (BENCH_EVENTS=20000 by default)
 * BENCH_PROF=<dir> writes CPU profiles of the broker and the search node there (node --cpu-prof);
 * run the bench itself with `node --cpu-prof` for the indexer's. BENCH_BULK_DOCUMENTS sets the
 * indexer's bulkDocuments (200, the default: four or so requests per batch; 100000: one per batch);
 * a comma list and BENCH_ROUNDS compare settings in one run, interleaved. BENCH_UNAWAITED=1 adds,
 * to each round, a consumer whose handler sends the same bulks without waiting for them: not a
 * valid indexer (it would commit before the documents are written), but the bound that any
 * pipelining of the indexer could reach, which is what the search node alone sustains.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { eventCodec, newId, partitionKey, readSchemaFile, TOPICS, type AuditEvent } from '@jwt-audit/events';
import { createAuditProducer, createConsumerRunner, createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { cpuMicros } from '../../../scripts/lib/proc-cpu.js';
import { createEsClient, createIndexerService, indexBatch, indexerDefaults, installTemplates } from '../src/index.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const logger = createLogger({ name: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const dir = mkdtempSync(path.join(tmpdir(), 'indexer-bench-'));

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
function child(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [...prof, '--conditions=source', '--import', 'tsx', path.join(root, script), ...args, '--log-level', 'warn'], {
    stdio: 'ignore',
  });
}

const cpuSeconds = (pid: number): number => cpuMicros(pid) / 1e6;

async function until(fn: () => Promise<boolean>, ms = 600_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const kport = await freePort();
const eport = await freePort();
const kafkaProc = child('packages/embedded-kafka/src/bin.ts', ['--dir', path.join(dir, 'k'), '--port', String(kport)]);
const esProc = child('packages/embedded-search/src/bin.ts', ['--dir', path.join(dir, 'e'), '--port', String(eport)]);
try {
  const brokers = [`127.0.0.1:${kport}`];
  const esUrl = `http://127.0.0.1:${eport}`;
  const es = new Client({ node: esUrl });
  await until(async () => (await es.ping()) === true);
  const kafka = createKafkaClient({ brokers, clientId: 'bench' }, logger);
  await until(async () => (await ensureTopics(kafka, defaultTopics(3)), true));
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  const base = readSchemaFile('examples/http.exchange.json') as AuditEvent;
  for (let i = 0; i < N; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, N - i) }, (_, j) => {
      const e: AuditEvent = { ...base, id: newId(), occurredAt: Date.now(), actor: { ...base.actor, sub: `user-${(i + j) % 500}` } };
      return { key: partitionKey(e), ...eventCodec.encode(e) };
    });
    await producer.send(TOPICS.enriched, batch);
  }

  // BENCH_BULK_DOCUMENTS=100000,200 BENCH_ROUNDS=3: each variant in each round, in alternating
  // order, against the same broker and node (each run its own consumer group and namespace), each
  // round with its own pass-through baseline: same-run ratios on a shared machine
  const variants: (number | 'unawaited')[] = (process.env.BENCH_BULK_DOCUMENTS ?? String(indexerDefaults.bulkDocuments)).split(',').map(Number);
  if (process.env.BENCH_UNAWAITED === '1') variants.push('unawaited');
  const rounds = Number(process.env.BENCH_ROUNDS ?? 1);
  /** The indexer's bulks, from the same runner, sent without waiting for their answers (BENCH_UNAWAITED). */
  const unawaited = async (namespace: string) => {
    const client = createEsClient({ url: esUrl });
    await installTemplates(client, logger);
    const runner = createConsumerRunner({
      kafka,
      groupId: `bench-unawaited-${namespace}`,
      topics: [TOPICS.enriched],
      stage: 'unawaited',
      logger,
      producer,
      partitionsConsumedConcurrently: indexerDefaults.concurrency,
      handler: async (records) => void indexBatch(client, records, namespace).catch(() => undefined),
    });
    return {
      start: () => runner.start(),
      async stop() {
        await runner.stop();
        await client.close();
      },
    };
  };
  for (let round = 0; round < rounds; round++) {
    // baseline: the same runner, a handler that does nothing
    let seen = 0;
    let t = process.hrtime.bigint();
    const pass = createConsumerRunner({
      kafka,
      groupId: `bench-pass-${round}`,
      topics: [TOPICS.enriched],
      stage: 'pass',
      logger,
      producer,
      partitionsConsumedConcurrently: 3,
      handler: async (r) => void (seen += r.length),
    });
    await pass.start();
    await until(async () => seen >= N);
    const passSecs = Number(process.hrtime.bigint() - t) / 1e9;
    await pass.stop();

    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const bulkDocuments of order) {
      const namespace = rounds === 1 && variants.length === 1 ? 'default' : `r${round}b${bulkDocuments === 'unawaited' ? 'u' : bulkDocuments}`;
      const index = `logs-jwt_audit.events-${namespace}`;
      const cpu0 = { self: process.cpuUsage(), kafka: cpuSeconds(kafkaProc.pid!), es: cpuSeconds(esProc.pid!) };
      t = process.hrtime.bigint();
      const svc =
        bulkDocuments === 'unawaited'
          ? await unawaited(namespace)
          : createIndexerService(
              {
                ...indexerDefaults,
                bulkDocuments,
                namespace,
                kafka: { brokers, clientId: 'bench-indexer' },
                elasticsearch: { url: esUrl },
                ops: {},
                groupId: `bench-indexer-${namespace}`,
              },
              { logger },
            );
      await svc.start();
      await until(async () => {
        await es.indices.refresh({ index });
        return (await es.count({ index })).count >= N;
      });
      const secs = Number(process.hrtime.bigint() - t) / 1e9;
      const selfCpu = process.cpuUsage(cpu0.self);
      const indexerCpu = (selfCpu.user + selfCpu.system) / 1e6;
      const kafkaCpu = cpuSeconds(kafkaProc.pid!) - cpu0.kafka;
      const esCpu = cpuSeconds(esProc.pid!) - cpu0.es;
      await svc.stop();
      const total = indexerCpu + kafkaCpu + esCpu;
      const result = {
        bench: 'indexer',
        events: N,
        round,
        bulkDocuments,
        indexer: { eventsPerSec: Math.round(N / secs), ofPassThrough: +(passSecs / secs).toFixed(3) },
        passThrough: { eventsPerSec: Math.round(N / passSecs) },
        cpuShare: {
          indexer: +(indexerCpu / total).toFixed(2),
          searchNode: +(esCpu / total).toFixed(2),
          broker: +(kafkaCpu / total).toFixed(2),
          cpuSeconds: +total.toFixed(1),
        },
        cpuMicrosPerEvent: { indexer: Math.round((indexerCpu / N) * 1e6), searchNode: Math.round((esCpu / N) * 1e6), broker: Math.round((kafkaCpu / N) * 1e6) },
        loadAverage: loadavg()[0]!.toFixed(1),
      };
      console.log(
        `events=${N} (bulkDocuments ${bulkDocuments}, round ${round}): indexed and searchable at ${result.indexer.eventsPerSec} events/s (${result.indexer.ofPassThrough}x a pass-through consumer at ${result.passThrough.eventsPerSec} events/s)`,
      );
      console.log(
        `CPU share: indexer ${result.cpuShare.indexer}, search node ${result.cpuShare.searchNode}, broker ${result.cpuShare.broker} (${result.cpuShare.cpuSeconds} CPU s); CPU per event: indexer ${result.cpuMicrosPerEvent.indexer} us, search node ${result.cpuMicrosPerEvent.searchNode} us, broker ${result.cpuMicrosPerEvent.broker} us`,
      );
      console.log(JSON.stringify(result));
    }
  }
  await producer.disconnect();
  await es.close();
} finally {
  kafkaProc.kill('SIGTERM');
  esProc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
