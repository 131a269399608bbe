/**
 * Fault injection (issue #28 item 5), the harness shared by the files beside it, one fault each (so
 * each runs within the runner's per-file limit and two run at once): the pipeline on the embedded
 * broker (its own process, so it can be killed -9 and restarted on its address) and the embedded
 * search node, every stage in-process, requests through the real interceptor, each with a unique
 * x-request-id. Per fault, every request the interceptor answered must be found, by its id, in
 * Elasticsearch and in the archive; nothing may be dead-lettered (no fault here is a record's fault);
 * duplicates are counted per place. Each file prints its row of the table (the root README's) as
 * the test's diagnostics.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@elastic/elasticsearch';
import { exportEvents, localStorage } from '@jwt-audit/archive';
import { startSearchNode } from '@jwt-audit/embedded-search';
import { deadLetterCodec, eventCodec, newId, TOPICS } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, defaultTopics, ensureTopics, fromKafkaError, type AuditProducer } from '@jwt-audit/kafka';
import { createLogger, createMetrics, type Metrics } from '@jwt-audit/runtime';
import { startAuthServer, startUpstream } from '@jwt-audit/demo';
import { createInterceptor, defaults as interceptorDefaults, type InterceptorConfig } from '@jwt-audit/interceptor';
import { createMaskerService, maskerDefaults } from '@jwt-audit/masker';
import { createEnricherService, enricherDefaults } from '@jwt-audit/enricher';
import { createIndexerService, indexerDefaults } from '@jwt-audit/indexer';
import { createArchiverService, archiverDefaults } from '@jwt-audit/archiver';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const logger = createLogger({ name: 'faults', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
export const PER_FAULT = 60;
const NAMESPACE = 'faults';

export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out (${ms} ms) waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface BrokerProcess {
  address: string;
  port: number;
  child: ChildProcess;
  /** The broker's log lines (pino JSON), from this start. */
  lines: Array<{ msg: string; [k: string]: unknown }>;
}

/** The embedded broker in a process of its own: `kill -9` is a real crash, restarted on its port. */
async function startBrokerProcess(dir: string, port = 0): Promise<BrokerProcess> {
  const child = spawn(
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
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: BrokerProcess['lines'] = [];
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the broker did not start in 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the broker exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const l = JSON.parse(line) as BrokerProcess['lines'][number];
        lines.push(l);
        if (l.msg === 'embedded Kafka broker listening') {
          clearTimeout(timer);
          resolve(String(l.address));
        }
      } catch {
        // not a log line
      }
    });
  });
  return { address, port: Number(address.slice(address.lastIndexOf(':') + 1)), child, lines };
}

export async function kill9(b: BrokerProcess): Promise<void> {
  if (b.child.exitCode !== null || b.child.signalCode !== null) return;
  const exited = new Promise((r) => b.child.once('exit', r));
  b.child.kill('SIGKILL');
  await exited;
}

/**
 * The stage's producer with faults switched on by the test (our AuditProducer interface, not
 * kafkajs): `hold` keeps sends to `topic` waiting until released; `fail` makes the next sends to
 * it throw what kafkajs throws when the broker is unreachable.
 */
function faultyProducer(inner: AuditProducer, topic: string) {
  let release: () => void = () => undefined;
  let gate: Promise<void> | undefined;
  const ctl = {
    held: 0,
    failures: [] as Error[],
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release() {
      gate = undefined;
      release();
    },
  };
  const producer: AuditProducer = {
    get raw() {
      return inner.raw;
    },
    connect: () => inner.connect(),
    disconnect: () => inner.disconnect(),
    async send(t, records) {
      if (t === topic) {
        if (gate) {
          ctl.held++;
          await gate;
        }
        const f = ctl.failures.shift();
        if (f) throw fromKafkaError(f, `producing ${records.length} records to ${t}`);
      }
      return inner.send(t, records);
    },
  };
  return { producer, ctl };
}

export const counter = async (m: Metrics, name: string): Promise<number> => {
  const text = await m.registry.metrics();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && !line.startsWith('#')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
};

export interface Row {
  fault: string;
  sent: number;
  answered: number;
  lostEs: number;
  lostArchive: number;
  dupArchive: number;
  dupEnriched: number;
  recoveryMs: number;
}

const t0 = Date.now();
/** Progress on stderr (FAULTS_PROGRESS=1): where a slow or stuck run is. */
export const progress = (what: string) => {
  if (process.env.FAULTS_PROGRESS) process.stderr.write(`faults +${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`);
};

/** The pipeline of one fault's file, started; everything it started is stopped after the test. */
export async function startFaultPipeline(t: TestContext) {
  const dir = mkdtempSync(path.join(tmpdir(), 'faults-'));
  const stops: Array<() => Promise<void>> = [];
  let broker = await startBrokerProcess(path.join(dir, 'kafka'));
  t.after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await kill9(broker);
    rmSync(dir, { recursive: true, force: true });
  });
  const search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  stops.push(() => search.close());
  const kafkaCfg = (clientId: string) => ({ brokers: [broker.address], clientId });
  const kafka = createKafkaClient(kafkaCfg('faults-setup'), logger);
  await ensureTopics(kafka, defaultTopics(3));
  const upstream = await startUpstream({ port: 0, logger });
  stops.push(() => upstream.close());
  // the route needs no token; the interceptor still loads a key set at start
  const auth = await startAuthServer({ port: 0, logger });
  stops.push(() => auth.close());

  // --- the stages, re-creatable (the stop fault stops and starts them)
  const sessionTimeoutMs = 6_000;
  let masker!: ReturnType<typeof faultyProducer>;
  let enricher!: ReturnType<typeof faultyProducer>;
  let maskerMetrics!: Metrics;
  let enricherMetrics!: Metrics;
  let stages: Array<{ start(): Promise<unknown>; stop(): Promise<void> }> = [];
  const startStages = async () => {
    maskerMetrics = createMetrics({ defaultMetrics: false });
    enricherMetrics = createMetrics({ defaultMetrics: false });
    const mk = createKafkaClient(kafkaCfg('masker'), logger);
    masker = faultyProducer(createAuditProducer(mk, { logger, metrics: maskerMetrics }), TOPICS.masked);
    const ek = createKafkaClient(kafkaCfg('enricher'), logger);
    enricher = faultyProducer(createAuditProducer(ek, { logger, metrics: enricherMetrics }), TOPICS.enriched);
    stages = [
      createMaskerService(
        { ...maskerDefaults, kafka: kafkaCfg('masker'), ops: {}, hmac: { keyId: 'faults', key: 'a-fault-suite-masking-key' } },
        { logger, metrics: maskerMetrics, producer: masker.producer, sessionTimeoutMs },
      ),
      createEnricherService(
        { ...enricherDefaults, kafka: kafkaCfg('enricher'), ops: {} },
        { logger, metrics: enricherMetrics, producer: enricher.producer, sessionTimeoutMs },
      ),
      createIndexerService({ ...indexerDefaults, kafka: kafkaCfg('indexer'), elasticsearch: { url: search.url }, ops: {}, namespace: NAMESPACE }, { logger }),
      createArchiverService(
        {
          ...archiverDefaults,
          kafka: kafkaCfg('archiver'),
          ops: {},
          sessionTimeoutMs,
          dir: path.join(dir, 'archive'),
          keys: { dir: path.join(dir, 'keys'), generate: true },
          seal: { maxRecords: 1000, maxBytes: 1 << 20, maxAgeMs: 300 },
        },
        { logger },
      ),
    ];
    for (const s of stages) await s.start();
  };
  const stopStages = async () => {
    for (const s of stages) await s.stop();
  };
  await startStages();
  stops.push(stopStages);

  const config: InterceptorConfig = {
    ...interceptorDefaults,
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { api: upstream.url },
    routes: [{ name: 'orders', path: '/api/orders', methods: ['GET'], upstream: 'api', auth: 'none' }],
    jwt: { ...interceptorDefaults.jwt, jwksUrl: auth.jwksUrl, issuer: auth.issuer, audience: 'demo-api' },
    spool: { ...interceptorDefaults.spool, dir: path.join(dir, 'spool') },
    kafka: kafkaCfg('interceptor'),
    ops: {},
  };
  const interceptor = createInterceptor(config, { logger, ops: false });
  const { url: edge } = await interceptor.start();
  stops.push(() => interceptor.stop());

  // --- requests and where they end up
  const answered = new Map<string, string>(); // request id -> phase
  const sentBy = new Map<string, number>();
  const order = new Map<string, number>(); // request id -> place in the order sent (one client, one key)
  /** Sends n requests one by one; `phase` names them (the fault, or "warm-up"). */
  async function send(phase: string, n: number, paceMs = 20): Promise<void> {
    for (let i = 0; i < n; i++) {
      const id = newId();
      order.set(id, order.size);
      sentBy.set(phase, (sentBy.get(phase) ?? 0) + 1);
      const res = await fetch(`${edge}/api/orders`, { headers: { 'x-request-id': id } }).catch(() => undefined);
      await res?.arrayBuffer();
      // answered: the client got the upstream's answer, so the exchange was audited
      if (res && res.status < 500) answered.set(id, phase);
      if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
    }
  }
  const es = new Client({ node: search.url });
  stops.push(() => es.close());
  const indexed = async (): Promise<Set<string>> => {
    await es.indices.refresh({ index: `logs-jwt_audit.events-${NAMESPACE}` });
    const r = await es.search<{ http?: { request?: { id?: string } } }>({
      index: `logs-jwt_audit.events-${NAMESPACE}`,
      size: 10_000,
      query: { match_all: {} },
    });
    return new Set(r.hits.hits.map((h) => h._source?.http?.request?.id).filter((x): x is string => typeof x === 'string'));
  };
  const storage = localStorage(path.join(dir, 'archive'));
  const archived = async (): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    for await (const r of exportEvents(storage, 0, Date.now() + 86_400_000, { dedupe: false })) {
      const id = (r.event as { http?: { request?: { id?: string } } }).http?.request?.id;
      if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  };
  /** The archive as `audit archive export` reads it (duplicates dropped by event id), request ids in order. */
  const exported = async (): Promise<string[]> => {
    const out: string[] = [];
    for await (const r of exportEvents(storage, 0, Date.now() + 86_400_000)) {
      const id = (r.event as { http?: { request?: { id?: string } } }).http?.request?.id;
      if (id) out.push(id);
    }
    return out;
  };
  const ids = (phase: string) => [...answered].filter(([, f]) => f === phase).map(([id]) => id);
  /** Waits until every answered request of `phase` is indexed and archived; the time since `since`. */
  async function recovered(phase: string, since: number): Promise<number> {
    progress(`${phase}: waiting for every answered request`);
    const mine = ids(phase);
    let missing = { es: mine.length, archive: mine.length };
    try {
      await until(
        `${phase}: every answered request indexed and archived`,
        async () => {
          const [inEs, inArchive] = await Promise.all([indexed(), archived()]);
          missing = { es: mine.filter((id) => !inEs.has(id)).length, archive: mine.filter((id) => !inArchive.has(id)).length };
          return missing.es === 0 && missing.archive === 0 ? true : undefined;
        },
        90_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${missing.es} missing from Elasticsearch, ${missing.archive} from the archive, of ${mine.length} answered`);
    }
    progress(`${phase}: recovered in ${Date.now() - since} ms`);
    return Date.now() - since;
  }

  /** Every record of audit.masked.v1, audit.enriched.v1 and audit.dlq.v1, counted per request id. */
  async function topics() {
    const enriched = new Map<string, number>();
    const masked = new Map<string, number>();
    const dlq: unknown[] = [];
    const reader = createKafkaClient(kafkaCfg('faults-reader'), logger).consumer({ groupId: `faults-reader-${newId()}`, maxWaitTimeInMs: 100 });
    await reader.connect();
    await reader.subscribe({ topics: [TOPICS.masked, TOPICS.enriched, TOPICS.dlq], fromBeginning: true });
    let seen = 0;
    await reader.run({
      eachMessage: async ({ topic, message }) => {
        seen++;
        if (topic === TOPICS.dlq) return void dlq.push(deadLetterCodec.decode(message.value!, message.headers as never));
        const id = eventCodec.decode(message.value!, message.headers as never).http?.request.id;
        const counts = topic === TOPICS.masked ? masked : enriched;
        if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
      },
    });
    const admin = kafka.admin();
    await admin.connect();
    const total = async (topic: string) => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    const expected = (await total(TOPICS.masked)) + (await total(TOPICS.enriched)) + (await total(TOPICS.dlq));
    await admin.disconnect();
    await until('audit.masked.v1, audit.enriched.v1 and audit.dlq.v1 read', async () => (seen >= expected ? true : undefined), 30_000);
    await reader.disconnect();
    return { masked, enriched, dlq };
  }

  /**
   * The fault's row of the table, printed as the test's diagnostics, and what every fault must
   * hold: every answered request indexed and archived, nothing dead-lettered.
   */
  async function report(phase: string, recoveryMs: number) {
    const [inArchive, inEs, { masked, enriched, dlq }] = [await archived(), await indexed(), await topics()];
    const mine = ids(phase);
    const row: Row = {
      fault: phase,
      sent: sentBy.get(phase) ?? 0,
      answered: mine.length,
      lostEs: mine.filter((id) => !inEs.has(id)).length,
      lostArchive: mine.filter((id) => !inArchive.has(id)).length,
      dupArchive: mine.reduce((n, id) => n + Math.max(0, (inArchive.get(id) ?? 0) - 1), 0),
      dupEnriched: mine.reduce((n, id) => n + Math.max(0, (enriched.get(id) ?? 0) - 1), 0),
      recoveryMs,
    };
    t.diagnostic('| fault | sent | answered | lost (Elasticsearch) | lost (archive) | duplicated (archive) | duplicated (audit.enriched.v1) | recovery |');
    t.diagnostic(
      `| ${row.fault} | ${row.sent} | ${row.answered} | ${row.lostEs} | ${row.lostArchive} | ${row.dupArchive} | ${row.dupEnriched} | ${(row.recoveryMs / 1000).toFixed(1)} s |`,
    );
    assert.ok(row.answered > 0, `${phase}: requests were answered`);
    assert.equal(row.lostEs, 0, `${phase}: answered but not indexed`);
    assert.equal(row.lostArchive, 0, `${phase}: answered but not archived`);
    assert.deepEqual(dlq, [], 'no fault here is a record that can never succeed: nothing dead-lettered');
    // issue #27 item 4: every request of this suite has one key (the client address), so one
    // partition; an export (duplicates dropped, the first copy kept) must read them in the order sent
    const mineSet = new Set(mine);
    const read = (await exported()).filter((id) => mineSet.has(id));
    const inversions = read.filter((id, i) => i > 0 && order.get(id)! < order.get(read[i - 1]!)!).length;
    t.diagnostic(`${phase}: ${read.length} exported once each, ${inversions} out of the order sent`);
    assert.equal(read.length, mine.length, `${phase}: export reads each answered request once`);
    assert.equal(inversions, 0, `${phase}: export reads the requests in the order they were sent`);
    const repeated = (counts: Map<string, number>) => mine.filter((id) => (counts.get(id) ?? 0) > 1).length;
    return { row, repeated: { masked: repeated(masked), enriched: repeated(enriched), archive: repeated(inArchive) } };
  }

  return {
    dir,
    get broker() {
      return broker;
    },
    /** Kills the broker with SIGKILL; `before` runs while it is down; then it starts on its port. */
    async restartBroker(before?: () => Promise<void>): Promise<void> {
      const port = broker.port;
      progress('kill -9 the broker');
      await kill9(broker);
      await before?.();
      broker = await startBrokerProcess(path.join(dir, 'kafka'), port);
    },
    get masker() {
      return masker;
    },
    get enricher() {
      return enricher;
    },
    get maskerMetrics() {
      return maskerMetrics;
    },
    /** Per partition of `topic`: the group's committed offset (-1: none) and the log end. */
    async offsets(groupId: string, topic: string): Promise<Array<{ partition: number; committed: number; high: number }>> {
      const admin = createKafkaClient(kafkaCfg('faults-offsets'), logger).admin();
      await admin.connect();
      try {
        const [ends, [committed]] = [await admin.fetchTopicOffsets(topic), await admin.fetchOffsets({ groupId, topics: [topic] })];
        return ends.map((e) => ({
          partition: e.partition,
          high: Number(e.high),
          committed: Number(committed!.partitions.find((c) => c.partition === e.partition)?.offset ?? -1),
        }));
      } finally {
        await admin.disconnect();
      }
    },
    sessionTimeoutMs,
    startStages,
    stopStages,
    send,
    sent: (phase: string) => sentBy.get(phase) ?? 0,
    recovered,
    report,
  };
}

export function size(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
}
