/**
 * The whole path on the embedded parts, through the real interceptor:
 *   a valid token -> a searchable document, an archived record that verifies, no alert;
 *   a revoked token -> 401, a token.rejected document with reason `revoked`, a revoked-token-use alert;
 *   a tampered archive -> verify fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { loadJwks, localStorage, prove, checkProof, verifyArchive } from '@jwt-audit/archive';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { startSearchNode } from '@jwt-audit/embedded-search';
import { alertCodec, TOPICS, type Alert } from '@jwt-audit/events';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { startAuthServer, startUpstream } from '@jwt-audit/demo';
import { createInterceptor, defaults as interceptorDefaults, type InterceptorConfig } from '@jwt-audit/interceptor';
import { createMaskerService, maskerDefaults } from '@jwt-audit/masker';
import { createEnricherService, enricherDefaults } from '@jwt-audit/enricher';
import { createIndexerService, indexerDefaults } from '@jwt-audit/indexer';
import { createArchiverService, archiverDefaults } from '@jwt-audit/archiver';
import { createDetectorService, defaults as detectorDefaults } from '@jwt-audit/anomaly-detector';

const logger = createLogger({ name: 'e2e', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 45_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('end to end: valid token -> searchable + archived, no alert; revoked token -> 401, rejected document, alert; tampering -> verify fails', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'e2e-'));
  const stops: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  stops.push(() => broker.close());
  const search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  stops.push(() => search.close());
  const kafkaCfg = (clientId: string) => ({ brokers: [broker.address], clientId });
  await ensureTopics(createKafkaClient(kafkaCfg('setup'), logger), defaultTopics(3));

  const auth = await startAuthServer({ port: 0, logger });
  stops.push(() => auth.close());
  const upstream = await startUpstream({ port: 0, logger });
  stops.push(() => upstream.close());

  const services = [
    createMaskerService({ ...maskerDefaults, kafka: kafkaCfg('masker'), ops: {}, hmac: { keyId: 'e2e', key: 'an-e2e-test-masking-key' } }, { logger }),
    createEnricherService({ ...enricherDefaults, kafka: kafkaCfg('enricher'), ops: {} }, { logger }),
    createIndexerService({ ...indexerDefaults, kafka: kafkaCfg('indexer'), elasticsearch: { url: search.url }, ops: {}, namespace: 'e2e' }, { logger }),
    createArchiverService({ ...archiverDefaults, kafka: kafkaCfg('archiver'), ops: {}, dir: path.join(dir, 'archive'), keys: { dir: path.join(dir, 'keys'), generate: true }, seal: { maxRecords: 1000, maxBytes: 1 << 20, maxAgeMs: 300 } }, { logger }),
    createDetectorService({ ...detectorDefaults, kafka: kafkaCfg('detector'), stateDir: path.join(dir, 'detector'), repartitionPartitions: 3, fsync: false }, { logger, ops: false }),
  ];
  for (const s of services) {
    await s.start();
    stops.push(() => s.stop());
  }

  const config: InterceptorConfig = {
    ...interceptorDefaults,
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { auth: auth.url, api: upstream.url },
    routes: [
      { name: 'token', path: '/oauth/token', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'token' },
      { name: 'revoke', path: '/oauth/revoke', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'revocation' },
      { name: 'orders', path: '/api/orders', methods: ['GET'], upstream: 'api', scopes: ['orders:read'] },
    ],
    jwt: { ...interceptorDefaults.jwt, jwksUrl: auth.jwksUrl, issuer: auth.issuer, audience: 'demo-api' },
    spool: { ...interceptorDefaults.spool, dir: path.join(dir, 'spool') },
    kafka: kafkaCfg('interceptor'),
    ops: {},
  };
  const interceptor = createInterceptor(config, { logger, ops: false });
  const { url: edge } = await interceptor.start();
  stops.push(() => interceptor.stop());

  const basic = 'Basic ' + Buffer.from('demo-web:demo-web-secret').toString('base64');
  const tokenRes = await fetch(`${edge}/oauth/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&username=alice&password=alice-pw' });
  assert.equal(tokenRes.status, 200);
  const { access_token: token } = (await tokenRes.json()) as { access_token: string };
  const ok = await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();

  // 1. a searchable document, in ECS, without the raw token
  const es = new Client({ node: search.url });
  stops.push(() => es.close());
  const validated = await until('the validated request indexed', async () => {
    await es.indices.refresh({ index: 'logs-jwt_audit.events-e2e' });
    const r = await es.search<Record<string, any>>({ index: 'logs-jwt_audit.events-e2e', query: { query_string: { query: 'user.id:alice AND url.path:"/api/orders" AND event.outcome:success' } } });
    return r.hits.hits[0];
  });
  assert.ok(!JSON.stringify(validated._source).includes(token), 'the raw token is never indexed');
  assert.equal(validated._source!.jwt_audit.token.iss, auth.issuer);

  // 2. an archived record that verifies, with an inclusion proof
  const storage = localStorage(path.join(dir, 'archive'));
  const jwks = await loadJwks(path.join(dir, 'keys', 'archive-public.jwks.json'));
  const proof = await until('the event archived', async () => prove(storage, validated._id!));
  assert.equal((await checkProof(proof, jwks)).ok, true);
  assert.deepEqual((await verifyArchive(storage, jwks)).findings, [], 'the archive verifies while the archiver goes on sealing');
  assert.ok(!readFileSync(path.join(dir, 'archive', 'audit.enriched.v1', String(proof.partition), proof.segment)).includes(Buffer.from(token)));

  // 3. no alert for a valid request
  const alerts: Alert[] = [];
  const consumer = createKafkaClient(kafkaCfg('alerts-reader'), logger).consumer({ groupId: 'e2e-alerts', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPICS.alerts], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void alerts.push(alertCodec.decode(message.value!, message.headers as never)) });
  stops.push(() => consumer.disconnect());
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(alerts.filter((a) => a.keys.subject === 'alice'), [], 'no alert for a valid request');

  // 4. revoke, then the same token: 401 within about a second, a rejected document, an alert
  const revoked = await fetch(`${edge}/oauth/revoke`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` });
  assert.equal(revoked.status, 200);
  const denied = await until('the revoked token refused', async () => {
    const r = await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    return r.status === 401 ? r : undefined;
  }, 5_000);
  assert.match(denied.headers.get('www-authenticate') ?? '', /invalid_token/);
  // the rule treats presentations within 5 s of the revocation as requests already in flight, and
  // the revoking client's own tabs going on for a while as its tail: the stolen copy is used again
  // a little later, by another client
  await new Promise((r) => setTimeout(r, 5_500));
  const replay = await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${token}`, 'user-agent': 'python-requests/2.31.0' } });
  await replay.arrayBuffer();
  assert.equal(replay.status, 401);
  const rejected = await until('the rejection indexed', async () => {
    await es.indices.refresh({ index: 'logs-jwt_audit.events-e2e' });
    const r = await es.search<Record<string, any>>({ index: 'logs-jwt_audit.events-e2e', query: { query_string: { query: 'event.action:token-rejected AND event.reason:revoked AND user.id:alice' } } });
    return r.hits.hits[0];
  });
  assert.equal(rejected._source!.url.path, '/api/orders');
  assert.equal(rejected._source!.jwt_audit.token.fingerprint, validated._source!.jwt_audit.token.fingerprint, 'the same token, by fingerprint');
  const alert = await until('the revoked-token-use alert', async () => alerts.find((a) => a.rule === 'revoked-token-use'));
  assert.equal(alert.keys.subject, 'alice');
  assert.ok(alert.evidence.includes(rejected._id!) || alert.evidence.length > 0);
  await until('the alert indexed', async () => {
    await es.indices.refresh({ index: 'logs-jwt_audit.alerts-e2e' });
    return (await es.count({ index: 'logs-jwt_audit.alerts-e2e', query: { term: { 'rule.name': 'revoked-token-use' } } })).count > 0 ? true : undefined;
  });

  // 5. tampering with the archive is detected
  const streamDir = path.join(dir, 'archive', 'audit.enriched.v1', String(proof.partition));
  const segment = path.join(streamDir, readdirSync(streamDir).find((f) => f.endsWith('.avro'))!);
  chmodSync(segment, 0o644);
  const bytes = readFileSync(segment);
  bytes[bytes.length - 25] = bytes[bytes.length - 25]! ^ 0x20;
  writeFileSync(segment, bytes);
  const report = await verifyArchive(storage, jwks);
  assert.equal(report.ok, false);
  assert.ok(report.findings.some((f) => f.kind === 'changed'), JSON.stringify(report.findings));
});
