import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadJwks, localStorage, verifyArchive } from '@jwt-audit/archive';
import { archiverDefaults, createArchiverService, type ArchiverConfig } from '@jwt-audit/archiver';
import { runAuditCaptured } from '@jwt-audit/cli';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { eventCodec, newId, partitionKey, readSchemaFile, TOPICS, type AuditEvent } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { until } from '@jwt-audit/runtime/testing/wait';

/**
 * The checkpoint topic as the anchor outside the archive: the archiver publishes every
 * checkpoint; `audit archive verify --from-topic` fails a copy whose tail was removed together
 * with its checkpoints; and an archiver restarted on a stream whose tail was removed refuses to
 * extend it (the partition pauses, health says why) while the other partitions go on.
 */
const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const base = readSchemaFile('examples/http.exchange.json') as AuditEvent;
const TOPIC = TOPICS.enriched;

/** The command lines in this process, output captured without swallowing the test runner's own reports. */
const audit = (args: string[]) => runAuditCaptured(args);

test('checkpoints published to audit.archive-checkpoints.v1 catch a truncated copy; a truncated stream is not extended', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'archive-anchor-'));
  const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  t.after(() => producer.disconnect());
  const produce = async (n: number) => {
    const events = Array.from({ length: n }, (_, i) => ({ ...base, id: newId(), actor: { ...base.actor, sub: `s${i % 12}` } }));
    await producer.send(
      TOPIC,
      events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
    );
  };
  const archiveDir = path.join(dir, 'archive');
  const config: ArchiverConfig = {
    ...archiverDefaults,
    kafka: { brokers: [broker.address], clientId: 'archiver' },
    ops: { port: 0, host: '127.0.0.1' },
    dir: archiveDir,
    keys: { dir: path.join(dir, 'keys'), generate: true },
    seal: { maxRecords: 8, maxBytes: 1 << 20, maxAgeMs: 200 },
    checkpoint: { ...archiverDefaults.checkpoint, intervalMs: 500, minIntervalMs: 0 },
  };
  const storage = localStorage(archiveDir);
  await produce(60);
  const svc = createArchiverService(config, { logger });
  const { jwksFile } = await svc.start();
  const jwks = await loadJwks(jwksFile);
  const covered = async (records: number) => {
    const r = await verifyArchive(storage, jwks);
    return r.ok && r.records >= records && r.warnings.every((w) => w.kind !== 'not-covered');
  };
  try {
    await until('60 records archived and covered by a checkpoint', () => covered(60));
  } finally {
    await svc.stop();
  }
  const common = ['--dir', archiveDir, '--jwks', jwksFile];
  const fromTopic = ['--from-topic', '--brokers', broker.address];
  const local = await audit(['archive', 'head', ...common]);
  const published = await audit(['archive', 'head', ...common, ...fromTopic]);
  assert.equal(local.code, 0, local.stderr);
  assert.match(local.stdout, /^jwt-audit-archiver\/audit\.enriched\.v1 checkpoint \d+ \S+ sha256:[0-9a-f]{64}\n$/);
  assert.equal(published.stdout, local.stdout, 'the newest checkpoint (written at stop) is the one published');
  const ok = await audit(['archive', 'verify', ...common, ...fromTopic]);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(ok.stdout, /matching the expected head: jwt-audit-archiver\/audit\.enriched\.v1, 3 partition\(s\)/);

  // the partition with the most manifests loses its tail
  const manifests = (p: number) =>
    readdirSync(path.join(archiveDir, TOPIC, String(p)))
      .filter((f) => f.endsWith('.manifest.jws'))
      .sort();
  const victim = [0, 1, 2].sort((a, b) => manifests(b).length - manifests(a).length)[0]!;
  const tail = manifests(victim).at(-1)!.split('.')[0]!;
  const removeTail = (root: string) => {
    const d = path.join(root, TOPIC, String(victim));
    for (const f of readdirSync(d).filter((f) => f.startsWith(`${tail}.`))) {
      chmodSync(path.join(d, f), 0o644);
      unlinkSync(path.join(d, f));
    }
  };
  const copy = path.join(dir, 'copy');
  cpSync(archiveDir, copy, { recursive: true });
  removeTail(copy);
  rmSync(path.join(copy, TOPIC, 'checkpoints'), { recursive: true, force: true });
  const copyArgs = ['--dir', copy, '--jwks', jwksFile];
  const caught = await audit(['archive', 'verify', ...copyArgs, ...fromTopic, '--archive-id', 'jwt-audit-archiver/audit.enriched.v1']);
  assert.equal(caught.code, 1, caught.stdout);
  assert.match(caught.stdout, /^FAIL head-mismatch .*is not in the archive \(it holds no checkpoint\): checkpoints were removed/m);
  assert.match(caught.stdout, new RegExp(`^FAIL tail-truncated\\s+audit\\.enriched\\.v1/${victim}/: chain ends at manifest ${Number(tail) - 1}, `, 'm'));
  const blind = await audit(['archive', 'verify', ...copyArgs]);
  assert.equal(blind.code, 1);
  assert.match(blind.stdout, /^FAIL checkpoint-missing/m);

  // restarted on the truncated original: the victim partition is paused, the others go on
  removeTail(archiveDir);
  await produce(36);
  const svc2 = createArchiverService(config, { logger });
  const started = await svc2.start();
  try {
    await until('health names the paused partition', async () => {
      const h = (await (await fetch(`${started.metricsUrl}/healthz`)).json()) as { ok: boolean; lastError?: string };
      return (
        !h.ok &&
        new RegExp(`${TOPIC}/${victim}/ ends at manifest ${Number(tail) - 1}, but checkpoint \\d+ says it reaches manifest ${Number(tail)}`).test(
          h.lastError ?? '',
        )
      );
    });
    const others = [0, 1, 2].filter((p) => p !== victim);
    const before = Object.fromEntries(others.map((p) => [p, manifests(p).length]));
    await produce(36);
    await until('the other partitions archive new records', () => others.every((p) => manifests(p).length > before[p]!));
  } finally {
    await svc2.stop();
  }
  assert.equal(manifests(victim).at(-1)!.split('.')[0], String(Number(tail) - 1).padStart(10, '0'), 'nothing was appended to the truncated stream');
  const report = await verifyArchive(storage, jwks);
  assert.deepEqual(
    report.findings.map((f) => [f.kind, f.stream]),
    [['tail-truncated', `${TOPIC}/${victim}/`]],
  );
});
