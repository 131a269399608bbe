import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { eventCodec, newId, partitionKey, readSchemaFile, TOPICS, type AuditEvent } from '@jwt-audit/events';
import { decodeSegment, loadJwks, localStorage, readHead, verifyArchive } from '@jwt-audit/archive';
import { createAuditProducer, createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger, createMetrics } from '@jwt-audit/runtime';
import { archiverDefaults, createArchiverService } from './index.js';
import { until } from '@jwt-audit/runtime/testing/wait';

const logger = createLogger({
  name: 'test',
  level: process.env.DEBUG_TEST ? 'debug' : 'silent',
  ...(process.env.DEBUG_TEST ? {} : { destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
});
const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.ts');
const base = readSchemaFile('examples/http.exchange.json') as AuditEvent;

test('a crash mid-segment (process killed) then restart: no gap, no duplicate, every record archived once (and a codec change between runs verifies)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'archiver-'));
  const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  const ids: string[] = [];
  const produce = async (n: number) => {
    const events = Array.from({ length: n }, (_, i) => ({ ...base, id: newId(), actor: { ...base.actor, sub: `s${i % 5}` } }));
    ids.push(...events.map((e) => e.id));
    await producer.send(
      TOPICS.enriched,
      events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
    );
  };
  await produce(50);
  const archiveDir = path.join(dir, 'archive');
  const keyDir = path.join(dir, 'keys');

  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main], {
    env: {
      ...process.env,
      AUDIT_KAFKA_BROKERS: broker.address,
      AUDIT_ARCHIVE_DIR: archiveDir,
      AUDIT_ARCHIVE_KEY_DIR: keyDir,
      AUDIT_ARCHIVE_SEAL_MAX_RECORDS: '7',
      AUDIT_ARCHIVE_SEAL_MAX_AGE_MS: '600000',
      AUDIT_ARCHIVE_SEGMENT_CODEC: 'null',
      AUDIT_ARCHIVER_SESSION_TIMEOUT_MS: '6000',
      AUDIT_METRICS_PORT: '0',
      AUDIT_LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  const manifests = () => (existsSync(archiveDir) ? readdirSync(archiveDir, { recursive: true }).filter((f) => String(f).endsWith('.manifest.jws')).length : 0);
  await until('a few segments sealed', () => manifests() >= 3);
  child.kill('SIGKILL'); // buffered, unsealed records die with it
  await new Promise((r) => child.once('exit', r));
  const sealedBeforeCrash = manifests();

  await produce(30);
  const svc = createArchiverService(
    {
      ...archiverDefaults,
      kafka: { brokers: [broker.address], clientId: 'archiver-2' },
      ops: {},
      dir: archiveDir,
      keys: { dir: keyDir, generate: false },
      seal: { maxRecords: 7, maxBytes: 1 << 20, maxAgeMs: 300 },
    },
    { logger },
  );
  const { jwksFile } = await svc.start();
  const storage = localStorage(archiveDir);
  const jwks = await loadJwks(jwksFile);
  try {
    await until('all 80 records archived', async () => (await verifyArchive(storage, jwks)).records >= 80, 40_000);
  } finally {
    await svc.stop();
  }
  const report = await verifyArchive(storage, jwks);
  assert.deepEqual(report.findings, [], 'no gap, no duplicate, every signature and hash valid');
  assert.equal(report.records, 80);
  assert.ok(report.manifests > sealedBeforeCrash);
  const archivedIds: string[] = [];
  for (const stream of await storage.streams()) {
    for (const key of (await storage.list(stream)).filter((k) => k.endsWith('.avro')))
      archivedIds.push(...(await decodeSegment(await storage.get(key))).map((r) => r.eventId));
  }
  assert.equal(archivedIds.length, 80);
  const codecs = new Set<string>();
  for (const stream of await storage.streams()) {
    for (const key of (await storage.list(stream)).filter((k) => k.endsWith('.avro')))
      codecs.add((await storage.get(key)).includes('\x0edeflate', 0, 'latin1') ? 'deflate' : 'null'); // the header's avro.codec value, length-prefixed
  }
  assert.deepEqual(
    [...codecs].sort(),
    ['deflate', 'null'],
    'the first run wrote null-codec segments (AUDIT_ARCHIVE_SEGMENT_CODEC), the second deflate ones (the default)',
  );
  assert.deepEqual(new Set(archivedIds), new Set(ids));
  await producer.disconnect();
});

test('a graceful stop seals what is buffered and commits it while the consumer still runs: no "seal failed", and a restart archives nothing twice', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'archiver-stop-'));
  const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  const events = Array.from({ length: 40 }, (_, i) => ({ ...base, id: newId(), actor: { ...base.actor, sub: `stop-${i % 6}` } }));
  await producer.send(
    TOPICS.enriched,
    events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
  );
  await producer.disconnect();
  const lines: Array<{ level: number; msg: string }> = [];
  const recording = createLogger({
    name: 'archiver',
    level: 'warn',
    destination: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c)) as { level: number; msg: string }), cb()) }),
  });
  const cfg = {
    ...archiverDefaults,
    kafka: { brokers: [broker.address], clientId: 'archiver-stop' },
    ops: {},
    groupId: 'archiver-stop',
    dir: path.join(dir, 'archive'),
    keys: { dir: path.join(dir, 'keys'), generate: true },
    sessionTimeoutMs: 6_000,
  };
  // nothing is due by size, count or age: only the stop seals
  const metrics = createMetrics();
  const svc = createArchiverService({ ...cfg, seal: { maxRecords: 1_000, maxBytes: 1 << 24, maxAgeMs: 600_000 } }, { logger: recording, metrics });
  await svc.start();
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await until('the archiver joined its group', async () => (await admin.describeGroups(['archiver-stop'])).groups[0]?.state === 'Stable');
  // the marker: every record read into an open segment (none is due, so none may be sealed yet)
  const bufferedRecords = async () => (await metrics.registry.getSingleMetric('audit_archiver_records_buffered_total')!.get()).values[0]?.value ?? 0;
  await until('every record buffered', async () => (await bufferedRecords()) >= events.length);
  assert.equal(
    readdirSync(path.join(dir, 'archive'), { recursive: true }).filter((f) => String(f).endsWith('.manifest.jws')).length,
    0,
    'nothing sealed before the stop',
  );
  await svc.stop();
  assert.deepEqual(
    lines.filter((l) => /seal failed|not initialized/i.test(l.msg + JSON.stringify(l))),
    [],
    'the stop sealed and committed without an error',
  );
  // what the stop sealed is exactly what it committed, partition by partition
  const committed = new Map(
    (await admin.fetchOffsets({ groupId: 'archiver-stop', topics: [TOPICS.enriched] }))[0]!.partitions.map((p) => [p.partition, p.offset]),
  );
  const storage = localStorage(path.join(dir, 'archive'));
  let sealedByStop = 0;
  for (const p of [0, 1, 2]) {
    const head = await readHead(storage, TOPICS.enriched, p);
    assert.equal(committed.get(p), head.lastOffset >= 0 ? String(head.lastOffset + 1) : '-1', `partition ${p}`);
    sealedByStop += head.lastOffset + 1;
  }
  assert.ok(sealedByStop > 0, 'the stop sealed what was buffered');
  const jwks = await loadJwks(path.join(dir, 'keys', 'archive-public.jwks.json'));
  // a restart archives the rest, each record once
  const again = createArchiverService({ ...cfg, seal: { maxRecords: 1_000, maxBytes: 1 << 24, maxAgeMs: 300 } }, { logger });
  await again.start();
  t.after(() => again.stop());
  await until('the rest archived by the restart', async () => (await verifyArchive(storage, jwks)).records >= 40);
  const report = await verifyArchive(storage, jwks);
  assert.deepEqual(report.findings, [], 'no gap, no duplicate');
  assert.equal(report.records, 40);
});
