import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { deadLetterCodec, eventCodec, newId, partitionKey, readSchemaFile, TOPICS, type AuditEvent, type DeadLetter } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, defaultTopics, ensureTopics, type AuditProducer } from '@jwt-audit/kafka';
import { buildMmdb } from '@jwt-audit/enrichment/testing';
import { createLogger } from '@jwt-audit/runtime';
import { createEnricherService, enricherDefaults } from './index.js';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('masked events come out enriched on audit.enriched.v1, keyed by subject, in order per subject; poison goes to the DLQ; stop() commits', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'enricher-'));
  const broker = await startBroker({ dir, port: 0 });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  const base = readSchemaFile('examples/token.validated.json') as AuditEvent;
  const occurredAt = (base.token!.iat! + 60) * 1000;
  const events = Array.from({ length: 12 }, (_, i) => ({
    ...base,
    id: newId(),
    occurredAt,
    actor: { ...base.actor, sub: `u${i % 3}` },
    network: { ...base.network!, clientIp: i % 2 ? '81.2.69.142' : '203.0.113.24' },
    attributes: { n: String(i) },
    enrichment: null,
  }));
  const cityDb = path.join(dir, 'city.mmdb');
  writeFileSync(cityDb, buildMmdb({ '81.2.69.0/24': { country: { iso_code: 'GB', names: { en: 'United Kingdom' } }, city: { names: { en: 'London' } } } }));
  const p = createAuditProducer(kafka, { logger });
  await p.connect();
  await p.send(
    TOPICS.masked,
    events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
  );
  // poison: not Avro at all, and a record with no value
  await p.send(TOPICS.masked, [
    { key: 'sub:u0', value: Buffer.from('garbage') },
    { key: 'sub:u1', value: null },
  ]);
  await p.disconnect();
  const now = 1_900_000_000_000;
  const svc = createEnricherService(
    {
      ...enricherDefaults,
      kafka: { brokers: [broker.address], clientId: 'enricher-test' },
      ops: { port: 0 },
      geoip: { cityDb },
      policy: { ...enricherDefaults.policy, routes: [{ route: '/orders/:id', scopes: ['orders:read'] }] },
    },
    { logger, now: () => now },
  );
  const { metricsUrl } = await svc.start();
  assert.deepEqual(await svc.start(), { metricsUrl }, 'start() is idempotent');
  const out: { key: string; e: AuditEvent }[] = [];
  const c = kafka.consumer({ groupId: 'reader', maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topics: [TOPICS.enriched], fromBeginning: true });
  await c.run({
    eachMessage: async ({ message }) => void out.push({ key: message.key!.toString(), e: eventCodec.decode(message.value!, message.headers as never) }),
  });
  const end = Date.now() + 20_000;
  while (out.length < 12 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  await c.disconnect();
  const health = await fetch(`${metricsUrl}/healthz`);
  assert.equal(health.status, 200);
  const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
  assert.match(metrics, /audit_enricher_geo_lookups_total\{result="found"\} 6/);
  assert.match(metrics, /audit_enricher_records_total\{outcome="processed"\} 12/);
  const dlq: DeadLetter[] = [];
  const d = kafka.consumer({ groupId: 'dlq-reader', maxWaitTimeInMs: 100 });
  await d.connect();
  await d.subscribe({ topics: [TOPICS.dlq], fromBeginning: true });
  await d.run({ eachMessage: async ({ message }) => void dlq.push(deadLetterCodec.decode(message.value!, message.headers as never)) });
  for (const end = Date.now() + 20_000; dlq.length < 2 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  await d.disconnect();
  await svc.stop();
  await svc.stop();
  assert.deepEqual(dlq.map((l) => [l.stage, l.code, l.originTopic]).sort(), [
    ['enricher', 'AUDIT_ERR_EMPTY_RECORD', TOPICS.masked],
    ['enricher', 'AUDIT_ERR_UNDECODABLE', TOPICS.masked],
  ]);
  assert.ok(dlq.every((l) => l.reason.length > 0 && l.originOffset >= 0));
  // graceful stop: every input offset, poison included, is committed
  const admin = kafka.admin();
  await admin.connect();
  const high = await admin.fetchTopicOffsets(TOPICS.masked);
  const [committed] = await admin.fetchOffsets({ groupId: enricherDefaults.groupId, topics: [TOPICS.masked] });
  await admin.disconnect();
  assert.deepEqual(committed!.partitions.map((x) => [x.partition, x.offset]).sort(), high.map((x) => [x.partition, x.high]).sort());
  assert.equal(out.length, 12);
  for (const { key, e } of out) {
    assert.equal(key, `sub:${e.actor.sub}`);
    assert.equal(e.enrichment!.tokenAgeSec, 60);
    const odd = Number(e.attributes.n) % 2 === 1;
    assert.equal(e.enrichment!.ipClass, odd ? 'public' : 'reserved', '203.0.113.0/24 is a documentation range');
    assert.equal(e.enrichment!.geo?.city ?? null, odd ? 'London' : null);
    assert.equal(e.enrichment!.enrichedAt, now);
    assert.equal(e.enrichment!.userAgent!.name, 'Safari');
    assert.deepEqual({ ...e.enrichment!.authorization! }, { requiredScopes: ['orders:read'], missingScopes: [], mismatch: false });
    assert.equal(e.enrichment!.sessionId, base.token!.sid);
  }
  for (const u of ['u0', 'u1', 'u2']) {
    const ns = out.filter((o) => o.e.actor.sub === u).map((o) => Number(o.e.attributes.n));
    assert.deepEqual(
      ns,
      [...ns].sort((a, b) => a - b),
    );
  }
});

test('a crash between produce and commit repeats work but loses nothing', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'enricher-crash-'));
  const broker = await startBroker({ dir, port: 0 });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  const base = readSchemaFile('examples/token.validated.json') as AuditEvent;
  const events = Array.from({ length: 40 }, (_, i) => ({ ...base, id: newId(), actor: { ...base.actor, sub: `crash-${i % 4}` }, enrichment: null }));
  const ids = new Set(events.map((e) => e.id));
  const p = createAuditProducer(kafka, { logger });
  await p.connect();
  await p.send(
    TOPICS.masked,
    events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
  );
  await p.disconnect();
  const config = { ...enricherDefaults, kafka: { brokers: [broker.address], clientId: 'enricher-crash' }, ops: {}, groupId: 'enricher-crash', concurrency: 1 };

  // Instance A: its output is acknowledged by Kafka, then it freezes before committing (a crash).
  let frozen = false;
  const real = createAuditProducer(kafka, { logger });
  const freezing: AuditProducer = {
    raw: real.raw,
    connect: () => real.connect(),
    disconnect: () => real.disconnect(),
    async send(topic, records) {
      await real.send(topic, records);
      if (topic === TOPICS.enriched) {
        frozen = true;
        await new Promise(() => undefined); // never returns: no commit follows
      }
    },
  };
  void createEnricherService(config, { logger, producer: freezing, sessionTimeoutMs: 6_000 }).start();
  for (const end = Date.now() + 20_000; !frozen && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  assert.ok(frozen, 'instance A produced output');

  // Instance B takes over once A's session expires, from the last committed offsets.
  const b = createEnricherService(config, { logger, sessionTimeoutMs: 6_000 });
  await b.start();
  const seen: string[] = [];
  const c = kafka.consumer({ groupId: 'crash-reader', maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topics: [TOPICS.enriched], fromBeginning: true });
  await c.run({ eachMessage: async ({ message }) => void seen.push(eventCodec.decode(message.value!, message.headers as never).id) });
  // B may finish the other partitions before it repeats A's batch: wait for the repeat too
  for (const end = Date.now() + 45_000; !(new Set(seen).size === ids.size && seen.length > ids.size) && Date.now() < end; )
    await new Promise((r) => setTimeout(r, 50));
  await c.disconnect();
  await b.stop();
  assert.equal(new Set(seen).size, 40, 'nothing lost');
  assert.ok(seen.every((id) => ids.has(id)));
  assert.ok(seen.length > 40, `the batch A produced before freezing was produced again (${seen.length} records for 40 events)`);
});
