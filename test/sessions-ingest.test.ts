/**
 * A session as the real edge makes it: a token from the demo IdP through the interceptor, requests,
 * sign-in and sign-out pushed through the ingest API; interceptor -> masker -> enricher ->
 * sessionizer -> indexer on the embedded broker and search node. One session, explicitly started,
 * ended by sign-out, its requests counted, searchable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { startSearchNode } from '@jwt-audit/embedded-search';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { startAuthServer, startUpstream } from '@jwt-audit/demo';
import { createInterceptor, defaults as interceptorDefaults, signIngestBody, type InterceptorConfig } from '@jwt-audit/interceptor';
import { createMaskerService, maskerDefaults } from '@jwt-audit/masker';
import { createEnricherService, enricherDefaults } from '@jwt-audit/enricher';
import { createIndexerService, indexerDefaults } from '@jwt-audit/indexer';
import { createSessionizerService, defaults as sessionizerDefaults } from '@jwt-audit/sessionizer';

const logger = createLogger({ name: 'sessions-ingest', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('through the interceptor: sign-in and sign-out pushed through the ingest API start and end the session the edge saw', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sessions-ingest-'));
  const stops: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  stops.push(() => broker.close());
  const search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  stops.push(() => search.close());
  const kafka = (clientId: string) => ({ brokers: [broker.address], clientId });
  await ensureTopics(createKafkaClient(kafka('setup'), logger), defaultTopics(3));
  const auth = await startAuthServer({ port: 0, logger });
  stops.push(() => auth.close());
  const upstream = await startUpstream({ port: 0, logger });
  stops.push(() => upstream.close());
  for (const s of [
    createMaskerService({ ...maskerDefaults, kafka: kafka('masker'), ops: {}, hmac: { keyId: 't', key: 'a-sessions-test-masking-key' } }, { logger }),
    createEnricherService({ ...enricherDefaults, kafka: kafka('enricher'), ops: {} }, { logger }),
    createSessionizerService({ ...sessionizerDefaults, kafka: kafka('sessionizer'), stateDir: path.join(dir, 'sessions'), fsync: false }, { logger, ops: false }),
    createIndexerService({ ...indexerDefaults, kafka: kafka('indexer'), elasticsearch: { url: search.url }, ops: {}, namespace: 'ingest' }, { logger }),
  ]) {
    await s.start();
    stops.push(() => s.stop());
  }
  const ingestKey = 'sessions-ingest-hmac-secret-0123456789';
  const config: InterceptorConfig = {
    ...interceptorDefaults,
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { auth: auth.url, api: upstream.url },
    routes: [
      { name: 'token', path: '/oauth/token', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'token' },
      { name: 'orders', path: '/api/orders', methods: ['GET'], upstream: 'api', scopes: ['orders:read'] },
    ],
    jwt: { ...interceptorDefaults.jwt, jwksUrl: auth.jwksUrl, issuer: auth.issuer, audience: 'demo-api' },
    spool: { ...interceptorDefaults.spool, dir: path.join(dir, 'spool') },
    ingest: { ...interceptorDefaults.ingest, enabled: true, hmacKeys: [{ id: 'k1', secret: ingestKey }] },
    kafka: kafka('interceptor'),
    ops: {},
  };
  const interceptor = createInterceptor(config, { logger, ops: false });
  const { url: edge } = await interceptor.start();
  stops.push(() => interceptor.stop());
  const push = async (event: object) => {
    const body = JSON.stringify(event);
    const r = await fetch(`${edge}/audit/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-audit-signature': signIngestBody(ingestKey, body), 'x-audit-key-id': 'k1' }, body });
    assert.ok(r.status < 300, `ingest answered ${r.status}: ${await r.text()}`);
  };

  const basic = 'Basic ' + Buffer.from('demo-web:demo-web-secret').toString('base64');
  const tokenRes = await fetch(`${edge}/oauth/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&username=alice&password=alice-pw' });
  assert.equal(tokenRes.status, 200);
  const { access_token: token } = (await tokenRes.json()) as { access_token: string };
  const sid = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid?: string }).sid;
  assert.ok(sid, 'the demo IdP puts a sid claim in its tokens');
  await push({ type: 'session.started', occurredAt: new Date().toISOString(), subject: 'alice', clientId: 'demo-web', session: { id: sid } });
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  }
  await push({ type: 'session.ended', occurredAt: new Date(Date.now() + 5).toISOString(), subject: 'alice', clientId: 'demo-web', session: { id: sid, reason: 'logout' } });

  const es = new Client({ node: search.url });
  stops.push(() => es.close());
  type Doc = { event: { reason?: string }; jwt_audit: { session: { basis: string; sid: string; explicit_start: boolean; end_detail?: string; requests: number; open: boolean } } };
  const deadline = Date.now() + 90_000;
  let docs: Doc[] = [];
  for (;;) {
    docs = await es.search<Doc>({ index: 'audit-sessions-*', query: { term: { 'user.id': 'alice' } } }).then((r) => r.hits.hits.map((h) => h._source!), () => []);
    if (docs.length > 0 && docs[0]!.event.reason === 'sign_out' && docs[0]!.jwt_audit.session.requests >= 3) break;
    if (Date.now() > deadline) assert.fail(`no ended session of alice in time: ${JSON.stringify(docs)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(docs.length, 1, 'the token, the requests, the pushed start and end are one session');
  const s = docs[0]!.jwt_audit.session;
  assert.equal(s.basis, 'sid');
  assert.equal(s.sid, sid);
  assert.equal(s.explicit_start, true);
  assert.equal(s.end_detail, 'logout');
  assert.equal(s.open, false);
});
