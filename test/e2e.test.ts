/**
 * The whole path on the embedded parts, through the real interceptor:
 *   a valid token -> a searchable document, an archived record that verifies, no alert;
 *   a revoked token -> 401, a token.rejected document with reason `revoked`, a revoked-token-use alert;
 *   a tampered archive -> verify fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadJwks, localStorage, prove, checkProof, verifyArchive } from '@jwt-audit/archive';
import { alertCodec, TOPICS, type Alert } from '@jwt-audit/events';
import { createKafkaClient } from '@jwt-audit/kafka';
import { until } from '@jwt-audit/runtime/testing/wait';
import { DEMO_CLIENT_BASIC, startPipeline } from './support/pipeline.js';

test('end to end: valid token -> searchable + archived, no alert; revoked token -> 401, rejected document, alert; tampering -> verify fails', async (t) => {
  const p = await startPipeline({ name: 'e2e' });
  t.after(() => p.stop());
  const { edge, es, dir } = p;
  const logger = p.logger;
  const kafkaCfg = p.kafka;

  const basic = DEMO_CLIENT_BASIC;
  const tokenRes = await fetch(`${edge}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=alice&password=alice-pw',
  });
  assert.equal(tokenRes.status, 200);
  const { access_token: token } = (await tokenRes.json()) as { access_token: string };
  const ok = await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();

  // 1. a searchable document, in ECS, without the raw token
  const validated = await until('the validated request indexed', async () => {
    await es.indices.refresh({ index: p.index });
    const r = await es.search<Record<string, any>>({
      index: p.index,
      query: { query_string: { query: 'user.id:alice AND url.path:"/api/orders" AND event.outcome:success' } },
    });
    return r.hits.hits[0];
  });
  assert.ok(!JSON.stringify(validated._source).includes(token), 'the raw token is never indexed');
  assert.equal(validated._source!.jwt_audit.token.iss, p.auth.issuer);

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
  p.defer(() => consumer.disconnect());
  // asserted below, once alice's revoked-token-use alert has come: alerts are keyed by subject, so
  // an alert about the valid request, sent before it, has been read by then

  // 4. revoke, then the same token: 401 within about a second, a rejected document, an alert
  const revoked = await fetch(`${edge}/oauth/revoke`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${token}`,
  });
  assert.equal(revoked.status, 200);
  const denied = await until(
    'the revoked token refused',
    async () => {
      const r = await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
      await r.arrayBuffer();
      return r.status === 401 ? r : undefined;
    },
    5_000,
  );
  assert.match(denied.headers.get('www-authenticate') ?? '', /invalid_token/);
  // the rule treats presentations within 5 s of the revocation as requests already in flight, and
  // the revoking client's own tabs going on for a while as its tail: the stolen copy is used again
  // a little later, by another client
  await new Promise((r) => setTimeout(r, 5_500));
  const replay = await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${token}`, 'user-agent': 'python-requests/2.31.0' } });
  await replay.arrayBuffer();
  assert.equal(replay.status, 401);
  const rejected = await until('the rejection indexed', async () => {
    await es.indices.refresh({ index: p.index });
    const r = await es.search<Record<string, any>>({
      index: p.index,
      query: { query_string: { query: 'event.action:token-rejected AND event.reason:revoked AND user.id:alice' } },
    });
    return r.hits.hits[0];
  });
  assert.equal(rejected._source!.url.path, '/api/orders');
  assert.equal(rejected._source!.jwt_audit.token.fingerprint, validated._source!.jwt_audit.token.fingerprint, 'the same token, by fingerprint');
  const alert = await until('the revoked-token-use alert', async () => alerts.find((a) => a.rule === 'revoked-token-use'));
  assert.equal(alert.keys.subject, 'alice');
  assert.deepEqual(
    alerts.slice(0, alerts.indexOf(alert)).filter((a) => a.keys.subject === 'alice'),
    [],
    'no alert for the valid request before it',
  );
  // the evidence is the revocation and the replayed use: a rejected, revoked presentation of this very token
  const evidence = await until('the evidence indexed', async () => {
    const r = await es.search<Record<string, any>>({ index: p.index, size: 10, query: { ids: { values: alert.evidence } } });
    return r.hits.hits.length === alert.evidence.length ? r.hits.hits : undefined;
  });
  const use = evidence.find((h) => h._source!.event.action === 'token-rejected');
  assert.ok(use, `a rejected use among the evidence: ${JSON.stringify(evidence.map((h) => h._source!.event))}`);
  assert.equal(use._source!.event.reason, 'revoked');
  assert.equal(use._source!.jwt_audit.token.fingerprint, validated._source!.jwt_audit.token.fingerprint, 'the revoked token itself');
  assert.equal(use._source!.user_agent.original, 'python-requests/2.31.0', 'the replay from the other client, not the requests in flight');
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
  assert.ok(
    report.findings.some((f) => f.kind === 'changed'),
    JSON.stringify(report.findings),
  );
});
