/**
 * Shared by the transform-stage benches (services/masker, services/enricher): the embedded broker in its own process (its CLI), topics, a
 * realistic event generator, and the pass-through baseline (a consumer group that consumes each
 * batch and produces the same bytes to another topic, acks=all, then commits: the same runner,
 * no work). The stage and the baseline read the same N records in the same run. Each is timed
 * from the moment its start() resolved (consumer running, a stage's worker threads ready) until
 * it has processed all N: start-up is a one-time cost, not throughput.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Kafka } from '@jwt-audit/kafka';
import { eventCodec, newId, partitionKey, readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import {
  createAuditProducer,
  createConsumerRunner,
  createKafkaClient,
  createTransformStage,
  defaultTopics,
  ensureTopics,
  type AuditProducer,
} from '@jwt-audit/kafka';
import { createLogger, createMetrics, type Metrics } from '@jwt-audit/runtime';
import { cpuMicros } from './proc-cpu.js';

export const N = Number(process.env.BENCH_EVENTS ?? 60_000);
export const logger = createLogger({ name: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

export function cpuSeconds(pid: number): number {
  return cpuMicros(pid) / 1e6;
}

export async function until(fn: () => boolean | Promise<boolean>, ms = 600_000): Promise<void> {
  const end = Date.now() + ms;
  while (
    !(await Promise.resolve()
      .then(fn)
      .catch(() => false))
  ) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Bench {
  brokers: string[];
  kafka: Kafka;
  producer: AuditProducer;
  brokerProc: ChildProcess;
  close(): Promise<void>;
}

export async function startBench(): Promise<Bench> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stage-bench-'));
  const port = await freePort();
  const brokerProc = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      path.join(root, 'packages/embedded-kafka/src/bin.ts'),
      '--dir',
      dir,
      '--port',
      String(port),
      '--log-level',
      'warn',
    ],
    { stdio: 'ignore' },
  );
  const brokers = [`127.0.0.1:${port}`];
  const kafka = createKafkaClient({ brokers, clientId: 'bench' }, logger);
  await until(async () => (await ensureTopics(kafka, [...defaultTopics(3), { topic: 'bench.passthrough', numPartitions: 3 }]), true), 30_000);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  return {
    brokers,
    kafka,
    producer,
    brokerProc,
    async close() {
      await producer.disconnect().catch(() => undefined);
      brokerProc.kill('SIGTERM');
      await new Promise((r) => brokerProc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  'okhttp/4.12.0',
  'curl/8.5.0',
];

/**
 * An http.exchange as the interceptor captures it: the Authorization header already
 * fingerprinted, a JSON request body with a login-like mix of fields, a query string, a JSON
 * response; every fourth event carries a planted email/card/JWT in free text.
 */
export function rawEvent(i: number): AuditEvent {
  const base = readSchemaFile('examples/http.exchange.json') as AuditEvent;
  const planted = i % 4 === 0 ? ` contact bob${i}@example.org card 4111 1111 1111 1111 tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2ln` : '';
  const body = JSON.stringify({
    sku: `A-${i}`,
    quantity: i % 5,
    customer: { name: 'Alice Example', email: `alice${i % 100}@example.com`, phone: '+1 415-555-0142' },
    password: `pw-${i}`,
    note: `deliver after 5pm${planted}`,
    items: [
      { id: 1, price: 9.99 },
      { id: 2, price: 19.5 },
    ],
  });
  return {
    ...base,
    id: newId(),
    occurredAt: Date.now(),
    actor: { ...base.actor, sub: `user-${i % 500}` },
    network: { clientIp: `81.2.${i % 250}.${(i * 7) % 250}`, forwardedFor: [], userAgent: UAS[i % UAS.length]! },
    http: {
      ...base.http!,
      request: {
        ...base.http!.request,
        path: `/orders/${i}`,
        query: `page=${i % 10}&access_token=opaque-${i}&sort=desc`,
        headers: {
          'content-type': 'application/json',
          authorization: `sha256:${'ab'.repeat(32)}`,
          'x-request-id': `req-${i}`,
          'user-agent': UAS[i % UAS.length]!,
        },
        body: { contentType: 'application/json', size: body.length, truncated: false, sha256: null, content: body },
      },
    },
  };
}

export async function produceEvents(b: Bench, topic: string, make: (i: number) => AuditEvent): Promise<void> {
  for (let i = 0; i < N; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, N - i) }, (_, j) => {
      const e = make(i + j);
      return { key: partitionKey(e), ...eventCodec.encode(e) };
    });
    await b.producer.send(topic, batch);
  }
}

/** Consume + produce the same bytes + commit, no work: the ceiling a stage is measured against. */
export async function passThrough(b: Bench, inputTopic: string, groupId: string): Promise<number> {
  let seen = 0;
  const runner = createConsumerRunner({
    kafka: b.kafka,
    groupId,
    topics: [inputTopic],
    stage: 'pass',
    logger,
    producer: b.producer,
    partitionsConsumedConcurrently: 3,
    handler: async (records) => {
      await b.producer.send(
        'bench.passthrough',
        records.map((r) => ({
          key: r.key,
          value: r.value,
          headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)])),
          timestamp: r.timestamp,
        })),
      );
      seen += records.length;
    },
  });
  await runner.start();
  // timed from here, as every stage is: start-up (threads, modules) is not throughput
  const t = process.hrtime.bigint();
  await until(() => seen >= N);
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  await runner.stop();
  return secs;
}

/** Wall seconds and this process's CPU seconds (user + system) spent while `fn` ran. */
export async function timed(fn: () => Promise<number>): Promise<{ secs: number; cpuUsPerEvent: number }> {
  const c = process.cpuUsage();
  const secs = await fn();
  const d = process.cpuUsage(c);
  return { secs, cpuUsPerEvent: Math.round((d.user + d.system) / N) };
}

/** Records a stage has processed (output acknowledged), from its metrics. */
export async function processed(metrics: Metrics, stage: string): Promise<number> {
  const m = metrics.registry.getSingleMetric(`audit_${stage}_records_total`);
  const v = m ? await m.get() : undefined;
  return v?.values.find((x) => x.labels.outcome === 'processed')?.value ?? 0;
}

export const quietMetrics = () => createMetrics({ defaultMetrics: false });

/** The same transform stage the services use, with a transform that returns its input. */
export async function identityStage(b: Bench, inputTopic: string, groupId: string): Promise<number> {
  const metrics = quietMetrics();
  const stage = createTransformStage({
    kafka: b.kafka,
    groupId,
    stage: 'identity',
    inputTopic,
    outputTopic: 'bench.passthrough',
    logger,
    producer: b.producer,
    metrics,
    partitionsConsumedConcurrently: 3,
    transform: (e) => e,
  });
  await stage.start();
  const t = process.hrtime.bigint();
  await until(async () => (await processed(metrics, 'identity')) >= N);
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  await stage.stop();
  return secs;
}
