/**
 * A session as the real edge makes it: a token from the demo IdP through the interceptor, requests,
 * sign-in and sign-out pushed through the ingest API; interceptor -> masker -> enricher ->
 * sessionizer -> indexer on the embedded broker and search node. One session, explicitly started,
 * ended by sign-out, its requests counted, searchable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signIngestBody } from '@jwt-audit/interceptor';
import { until } from '@jwt-audit/runtime/testing/wait';
import { DEMO_CLIENT_BASIC, DEMO_ROUTES, startPipeline } from './support/pipeline.js';

test('through the interceptor: sign-in and sign-out pushed through the ingest API start and end the session the edge saw', async (t) => {
  const ingestKey = 'sessions-ingest-hmac-secret-0123456789';
  const p = await startPipeline({
    name: 'sessions-ingest',
    namespace: 'ingest',
    stages: ['masker', 'enricher', 'sessionizer', 'indexer'],
    interceptor: (config) => ({
      ...config,
      routes: DEMO_ROUTES.filter((r) => r.name !== 'revoke'),
      ingest: { ...config.ingest, enabled: true, hmacKeys: [{ id: 'k1', secret: ingestKey }] },
    }),
  });
  t.after(() => p.stop());
  const { edge, es } = p;
  const push = async (event: object) => {
    const body = JSON.stringify(event);
    const r = await fetch(`${edge}/audit/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-audit-signature': signIngestBody(ingestKey, body), 'x-audit-key-id': 'k1' },
      body,
    });
    assert.ok(r.status < 300, `ingest answered ${r.status}: ${await r.text()}`);
  };

  const basic = DEMO_CLIENT_BASIC;
  const tokenRes = await fetch(`${edge}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=alice&password=alice-pw',
  });
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
  await push({
    type: 'session.ended',
    occurredAt: new Date(Date.now() + 5).toISOString(),
    subject: 'alice',
    clientId: 'demo-web',
    session: { id: sid, reason: 'logout' },
  });

  type Doc = {
    event: { reason?: string };
    jwt_audit: { session: { basis: string; sid: string; explicit_start: boolean; end_detail?: string; requests: number; open: boolean } };
  };
  let docs: Doc[] = [];
  await until(
    'an ended session of alice with its 3 requests',
    async () => {
      docs = await es.search<Doc>({ index: 'audit-sessions-*', query: { term: { 'user.id': 'alice' } } }).then((r) => r.hits.hits.map((h) => h._source!));
      return docs.length > 0 && docs[0]!.event.reason === 'sign_out' && docs[0]!.jwt_audit.session.requests >= 3;
    },
    90_000,
  ).catch((err: Error) => assert.fail(`${err.message}: ${JSON.stringify(docs)}`));
  assert.equal(docs.length, 1, 'the token, the requests, the pushed start and end are one session');
  const s = docs[0]!.jwt_audit.session;
  assert.equal(s.basis, 'sid');
  assert.equal(s.sid, sid);
  assert.equal(s.explicit_start, true);
  assert.equal(s.end_detail, 'logout');
  assert.equal(s.open, false);
});
