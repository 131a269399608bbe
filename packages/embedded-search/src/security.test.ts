import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, errors } from '@elastic/elasticsearch';
import { makeTestPki, type TestPki } from '@jwt-audit/runtime/testing/pki';
import { startSearchNode, type SearchNode } from './index.js';

const USERS = { elastic: 'ch@nge:me ü', reader: 'second' };
const KEYS = { 'key-1': 'k3y-s3cret' };
let pki: TestPki;
let node: SearchNode;
let dir: string;

before(async () => {
  pki = makeTestPki();
  dir = mkdtempSync(path.join(tmpdir(), 'esearch-sec-'));
  node = await startSearchNode({ dir, port: 0, security: { users: USERS, apiKeys: KEYS }, tls: { key: pki.key, cert: pki.cert } });
});
after(async () => {
  await node?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
});

const client = (auth?: ConstructorParameters<typeof Client>[0]['auth']) =>
  new Client({ node: node.url, tls: { ca: pki.ca }, maxRetries: 0, ...(auth ? { auth } : {}) });

test('over HTTPS with a verified certificate: basic users and API keys (both client forms) index and search; _security/_authenticate names the caller', async () => {
  assert.match(node.url, /^https:/);
  const callers = [
    { auth: { username: 'elastic', password: USERS.elastic }, who: 'elastic' },
    { auth: { username: 'reader', password: USERS.reader }, who: 'reader' },
    { auth: { apiKey: Buffer.from(`key-1:${KEYS['key-1']}`).toString('base64') }, who: 'api-key:key-1' },
    { auth: { apiKey: { id: 'key-1', api_key: KEYS['key-1'] } }, who: 'api-key:key-1' },
  ];
  for (const [i, c] of callers.entries()) {
    const es = client(c.auth);
    await es.index({ index: 'secured', id: String(i), document: { n: i }, refresh: true });
    const r = await es.search({ index: 'secured', query: { term: { n: i } } });
    assert.equal(r.hits.hits.length, 1);
    const me = await es.security.authenticate();
    assert.equal(me.username, c.who);
    await es.close();
  }
});

test('missing, wrong and malformed credentials are 401 security_exception with Elasticsearch reasons and challenges; nothing is served', async () => {
  const variants: { auth?: Record<string, string>; header?: string; reason: RegExp }[] = [
    { reason: /^missing authentication credentials for REST request \[\/secured\/_search\]$/ },
    { auth: { username: 'elastic', password: 'wrong' }, reason: /^unable to authenticate user \[elastic\] for REST request/ },
    { auth: { username: 'nobody', password: USERS.elastic }, reason: /^unable to authenticate user \[nobody\]/ },
    { auth: { username: 'elastic', password: USERS.elastic.slice(0, -1) }, reason: /unable to authenticate user \[elastic\]/ },
    { auth: { username: 'elastic', password: USERS.elastic + ' ' }, reason: /unable to authenticate user \[elastic\]/ },
    { auth: { apiKey: Buffer.from('key-1:wrong').toString('base64') }, reason: /unable to authenticate with provided credentials/ },
    { auth: { apiKey: Buffer.from('key-2:k3y-s3cret').toString('base64') }, reason: /unable to authenticate with provided credentials/ },
    { auth: { apiKey: 'not base64 at all' }, reason: /unable to authenticate with provided credentials/ },
    { header: 'Bearer abc', reason: /missing authentication credentials/ },
    { header: 'Basic', reason: /unable to authenticate user \[\]/ },
    { header: 'Basic ' + Buffer.from('elastic').toString('base64'), reason: /unable to authenticate user \[elastic\]/ },
    { header: 'Basic ' + Buffer.from(':' + USERS.elastic).toString('base64'), reason: /unable to authenticate user \[\]/ },
    { header: 'basic ' + Buffer.from('elastic:' + USERS.elastic.toUpperCase()).toString('base64'), reason: /unable to authenticate user \[elastic\]/ },
  ];
  for (const v of variants) {
    const es = new Client({
      node: node.url,
      tls: { ca: pki.ca },
      maxRetries: 0,
      ...(v.auth ? { auth: v.auth as never } : {}),
      ...(v.header ? { headers: { authorization: v.header } } : {}),
    });
    const err = await es.search({ index: 'secured' }).then(
      () => assert.fail(`${JSON.stringify(v)} was served`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof errors.ResponseError, String(err));
    assert.equal(err.statusCode, 401);
    const body = err.body as { error: { type: string; reason: string } };
    assert.equal(body.error.type, 'security_exception');
    assert.match(body.error.reason, v.reason, JSON.stringify(v));
    assert.deepEqual(String(err.headers?.['www-authenticate']).split(/,\s*(?=Basic|Bearer|ApiKey)/), [
      'Basic realm="security" charset="UTF-8"',
      'Bearer realm="security"',
      'ApiKey',
    ]);
    await es.close();
  }
});

test("a client that does not trust the node's certificate cannot connect", async () => {
  const es = new Client({ node: node.url, auth: { username: 'elastic', password: USERS.elastic }, maxRetries: 0 });
  await assert.rejects(es.info(), (e: Error) => e instanceof errors.ConnectionError);
  await es.close();
});
