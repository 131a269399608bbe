import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { eventCodec, newId, partitionKey, readSchemaFile, TOPICS, type AuditEvent } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { createEnricherService, enricherDefaults } from './index.js';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('masked events come out enriched on audit.enriched.v1, keyed by subject, in order per subject', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'enricher-'));
  const broker = await startBroker({ dir, port: 0 });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  const base = readSchemaFile('examples/token.validated.json') as AuditEvent;
  const events = Array.from({ length: 12 }, (_, i) => ({ ...base, id: newId(), actor: { ...base.actor, sub: `u${i % 3}` }, attributes: { n: String(i) }, enrichment: null }));
  const p = createAuditProducer(kafka, { logger });
  await p.connect();
  await p.send(TOPICS.masked, events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })));
  await p.disconnect();
  const now = (base.token!.iat! + 60) * 1000;
  const svc = createEnricherService({ ...enricherDefaults, kafka: { brokers: [broker.address], clientId: 'enricher-test' }, ops: {}, policy: { ...enricherDefaults.policy, routeScopes: { '/orders/:id': ['orders:read'] } } }, { logger, now: () => now });
  await svc.start();
  const out: { key: string; e: AuditEvent }[] = [];
  const c = kafka.consumer({ groupId: 'reader', maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topics: [TOPICS.enriched], fromBeginning: true });
  await c.run({ eachMessage: async ({ message }) => void out.push({ key: message.key!.toString(), e: eventCodec.decode(message.value!, message.headers as never) }) });
  const end = Date.now() + 20_000;
  while (out.length < 12 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  await c.disconnect();
  await svc.stop();
  assert.equal(out.length, 12);
  for (const { key, e } of out) {
    assert.equal(key, `sub:${e.actor.sub}`);
    assert.equal(e.enrichment!.tokenAgeSec, 60);
    assert.equal(e.enrichment!.ipClass, 'reserved', '203.0.113.0/24 is a documentation range');
    assert.equal(e.enrichment!.userAgent!.name, 'Safari');
    assert.deepEqual(e.enrichment!.authorization, { requiredScopes: ['orders:read'], missingScopes: [], mismatch: false });
    assert.equal(e.enrichment!.sessionId, base.token!.sid);
  }
  for (const u of ['u0', 'u1', 'u2']) {
    const ns = out.filter((o) => o.e.actor.sub === u).map((o) => Number(o.e.attributes.n));
    assert.deepEqual(ns, [...ns].sort((a, b) => a - b));
  }
});
