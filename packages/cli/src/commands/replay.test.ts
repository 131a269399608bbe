/**
 * `audit replay`'s command line on documents indexed directly in the embedded search node (the
 * whole recorded path, interceptor to index, is test/replay.test.ts): a production upstream as
 * target is refused however it is spelled, and generated bad selectors and flags exit 2 with a
 * message naming the flag, with nothing sent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import { toEcsDocument } from '@jwt-audit/ecs';
import { newId, readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import { runAuditCaptured as audit } from '../run-captured.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cli-replay-'));
const stops: (() => Promise<void>)[] = [];
let node: SearchNode;
let esUrl: string;
let tokenFile: string;
const operatorToken = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJvcGVyYXRvciJ9.c2lnbmF0dXJl';
/** The examples' session (token.sid), two exchanges: the GET and the POST of schemas/examples. */
const sessionId = 'sess-8c1d';
const RECORDED = 2;

/** A server that answers 200 to anything and counts what it got: a production stand-in, or a target. */
async function countingServer(): Promise<{ url: string; port: number; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    n++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const s = {
    url: `http://127.0.0.1:${port}`,
    port,
    count: () => n,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
  stops.push(s.close);
  return s;
}

before(async () => {
  node = await startSearchNode({ dir, port: 0 });
  esUrl = node.url;
  const es = new Client({ node: node.url });
  await es.indices.putIndexTemplate({ name: 'e', ...(readSchemaFile('elasticsearch/template-logs-jwt_audit.events.json') as object) } as never);
  const now = Date.now();
  const docs = (['token.validated', 'http.exchange'] as const).map((kind, i) => ({
    ...(readSchemaFile(`examples/${kind}.json`) as AuditEvent),
    id: newId(),
    occurredAt: now - 60_000 + i * 1000,
  }));
  for (const e of docs) await es.index({ index: 'logs-jwt_audit.events-replay', id: e.id, document: toEcsDocument(e), op_type: 'create' });
  await es.indices.refresh({ index: 'logs-jwt_audit.events-replay' });
  await es.close();
  tokenFile = path.join(dir, 'operator-token');
  writeFileSync(tokenFile, `${operatorToken}\n`, { mode: 0o600 });
});

after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a production upstream as target is refused, however it is spelled, unless --allow-production', async () => {
  const prod = await countingServer();
  const idp = await countingServer();
  const env = { AUDIT_INTERCEPTOR_UPSTREAMS: JSON.stringify({ auth: idp.url, api: prod.url }) };
  const spellings = [
    prod.url,
    `${prod.url}/`,
    `${prod.url}/api/orders`,
    `http://localhost:${prod.port}`,
    `http://LOCALHOST:${prod.port}/x`,
    `http://[::ffff:127.0.0.1]:${prod.port}`,
    `http://127.0.0.1.:${prod.port}`,
  ];
  for (const target of spellings) {
    const r = await audit(['replay', '--session', sessionId, '--target', target, '--token-file', tokenFile, '--es-url', esUrl], env);
    assert.equal(r.code, 2, `${target}: ${r.stderr}`);
    assert.match(r.stderr, /--target .* is a production upstream .*AUDIT_INTERCEPTOR_UPSTREAMS \(api\).*--allow-production/, target);
  }
  // listed with --production-upstream instead, or in the interceptor's config file
  const other = await countingServer();
  for (const target of [other.url, `${other.url}/`]) {
    const r = await audit([
      'replay',
      '--session',
      sessionId,
      '--target',
      target,
      '--token-file',
      tokenFile,
      '--es-url',
      esUrl,
      '--production-upstream',
      `http://127.0.0.1:1,${other.url}`,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /production upstream .* from --production-upstream/);
  }
  const config = path.join(dir, 'interceptor.json');
  writeFileSync(config, JSON.stringify({ upstreams: { orders: other.url } }));
  const fromConfig = await audit([
    'replay',
    '--session',
    sessionId,
    '--target',
    `http://localhost:${other.port}/`,
    '--token-file',
    tokenFile,
    '--es-url',
    esUrl,
    '--interceptor-config',
    config,
  ]);
  assert.equal(fromConfig.code, 2, fromConfig.stderr);
  assert.match(fromConfig.stderr, /from --interceptor-config upstreams \(orders\)/);
  assert.equal(prod.count() + idp.count() + other.count(), 0, 'nothing sent to production');
  // a different port on the same host is not production
  const ok = await audit(
    ['replay', '--session', sessionId, '--target', other.url, '--token-file', tokenFile, '--rate', '100', '--es-url', esUrl, '--json'],
    env,
  );
  assert.equal(ok.code, 1, 'sent (and differs: the stand-in answers {"ok":true})');
  assert.equal(other.count(), RECORDED);
  const allowed = await audit(
    ['replay', '--session', sessionId, '--target', prod.url, '--token-file', tokenFile, '--rate', '100', '--allow-production', '--es-url', esUrl, '--json'],
    env,
  );
  assert.equal(allowed.code, 1, allowed.stderr);
  assert.equal(prod.count(), RECORDED, 'sent with --allow-production');
});

/** Generated bad values: each must be refused with exit 2 and a message naming its flag. */
function badValues(kind: 'id' | 'uuid' | 'time' | 'rate' | 'int' | 'url'): string[] {
  const control = ['\u0000', '\n', '\r', '\t', '\u001b', '\u007f'];
  const out: string[] = ['', ' ', '\u00a0'];
  let seed = 19;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(1 + Math.floor(rnd() * 0x2ff))).join('');
  switch (kind) {
    case 'id':
      for (const c of control) out.push(`sid${c}x`, `${c}sid`);
      out.push(' sid', 'sid ', 'x'.repeat(1025));
      break;
    case 'uuid':
      out.push(
        'not-a-uuid',
        '0193a009-7c2e-7a31-8f00',
        '0193a009-7c2e-7a31-8f00-3a000000000a,',
        'g193a009-7c2e-7a31-8f00-3a000000000a',
        '0193a0097c2e7a318f003a000000000a',
        `0193a009-7c2e-7a31-8f00-3a000000000a${'\n'}`,
      );
      for (let i = 0; i < 8; i++) out.push(junk(1 + Math.floor(rnd() * 40)));
      break;
    case 'time':
      out.push(
        'yesterday',
        '15x',
        '-5m',
        'now-',
        'now-1q',
        'now+1h/x',
        '2026-13-45',
        '99999-01-01',
        '1e3',
        'NaN',
        'Infinity',
        '5m ago',
        '2026-11-20T10:00:00Z||',
        '2026-11-20T10:00:00Z||+1',
      );
      for (let i = 0; i < 6; i++) out.push(`now${junk(3)}`);
      break;
    case 'rate':
      out.push('0', '-1', '-0.5', 'abc', '1e3', '0x10', 'NaN', 'Infinity', '1001', '5/s', '1,5', '..5', String(Number.MAX_SAFE_INTEGER));
      break;
    case 'int':
      out.push('0', '-1', '1.5', 'abc', '1e3', '0x10', 'NaN', '99999999999', '10 ', '+5');
      break;
    case 'url':
      out.push(
        '127.0.0.1:9100',
        'ftp://127.0.0.1/',
        'file:///etc/passwd',
        'javascript:alert(1)',
        'http://user:pw@127.0.0.1:9100',
        'http://127.0.0.1:9100/?q=1',
        'http://127.0.0.1:9100/#x',
        'http://',
        '//127.0.0.1:9100',
        'http://[::1',
        'http://127.0.0.1:99999',
      );
      for (let i = 0; i < 6; i++) out.push(junk(1 + Math.floor(rnd() * 20)));
      break;
  }
  return out;
}

test('bad selectors and flags (generated variants): exit 2 and a message naming the flag, nothing sent', async () => {
  const target = await countingServer();
  const base = ['replay', '--target', target.url, '--token-file', tokenFile, '--es-url', esUrl];
  const cases: Array<{ args: string[]; names: RegExp }> = [];
  for (const v of badValues('id'))
    cases.push({ args: [...base, '--session', v], names: /--session/ }, { args: [...base, '--subject', v, '--since', '1h'], names: /--subject/ });
  for (const v of badValues('uuid')) cases.push({ args: [...base, '--event', v], names: /--event/ });
  for (const v of badValues('time'))
    cases.push(
      { args: [...base, '--subject', 'alice', '--since', v], names: /--since/ },
      { args: [...base, '--session', sessionId, '--until', v], names: /--until/ },
    );
  for (const v of badValues('rate')) cases.push({ args: [...base, '--session', sessionId, '--rate', v], names: /--rate/ });
  for (const v of badValues('int'))
    cases.push(
      { args: [...base, '--session', sessionId, '--limit', v], names: /--limit/ },
      { args: [...base, '--session', sessionId, '--timeout', v], names: /--timeout/ },
    );
  for (const v of badValues('url')) {
    cases.push({ args: ['replay', '--session', sessionId, '--token-file', tokenFile, '--es-url', esUrl, '--target', v], names: /--target/ });
    // a production upstream may hold credentials, a query or a fragment: its server is what counts
    if (!/@|\?|#/.test(v)) cases.push({ args: [...base, '--session', sessionId, '--production-upstream', v], names: /--production-upstream/ });
  }
  for (const v of ['fast', 'RECORDED', '', 'recorded,none']) cases.push({ args: [...base, '--session', sessionId, '--pace', v], names: /--pace/ });
  // tokens that could break out of the header or are no token at all
  for (const v of ['', 'Bearer abc', 'abc def', 'abc\r\nx-injected: 1', 'abc\n', 'a\u0000b', 'tök', '=abc', 'x'.repeat(16_385)]) {
    cases.push({ args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl, '--token', v], names: /--token/ });
    if (v === 'abc\n') continue; // a file's last newline is not part of the token
    const f = path.join(dir, `bad-token-${cases.length}`);
    writeFileSync(f, v);
    cases.push({ args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl, '--token-file', f], names: /--token-file/ });
  }
  // combinations
  cases.push(
    { args: [...base], names: /--session <id>, --subject <sub> with --since, or --event <id>/ },
    { args: [...base, '--session', sessionId, '--subject', 'alice', '--since', '1h'], names: /--session and --subject/ },
    { args: [...base, '--subject', 'alice'], names: /--subject needs --since/ },
    { args: [...base, '--session', sessionId, '--since', '2026-11-21', '--until', '2026-11-20'], names: /--since is after --until/ },
    { args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl], names: /--token-file/ },
    {
      args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl, '--token', 'abc', '--token-file', tokenFile],
      names: /--token or --token-file, not both/,
    },
    {
      args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl, '--token-file', path.join(dir, 'no-such-file')],
      names: /--token-file: cannot read .*ENOENT/,
    },
    { args: ['replay', '--session', sessionId, '--token-file', tokenFile, '--es-url', esUrl], names: /--target/ },
    { args: [...base, '--session', 'sid-nobody'], names: /no recorded HTTP exchange of session sid-nobody/ },
    {
      args: [...base, '--event', '0193a009-7c2e-7a31-8f00-3a000000000a'],
      names: /--event: no recorded HTTP exchange with id 0193a009-7c2e-7a31-8f00-3a000000000a/,
    },
    { args: [...base, '--session', sessionId, '--limit', '1'], names: /--limit: 2 recorded requests match, more than --limit 1/ },
    { args: [...base, '--session', sessionId, '--interceptor-config', path.join(dir, 'nope.json')], names: /--interceptor-config: cannot read/ },
  );
  for (const c of cases) {
    const r = await audit(c.args);
    assert.equal(r.code, 2, `${JSON.stringify(c.args.slice(-2))}: exit ${r.code}\n${r.stderr}${r.stdout}`);
    assert.match(r.stderr, c.names, JSON.stringify(c.args.slice(-2)));
    assert.ok(!r.stderr.includes(operatorToken));
  }
  const bad = await audit([...base, '--session', sessionId], { AUDIT_INTERCEPTOR_UPSTREAMS: '{not json' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /AUDIT_INTERCEPTOR_UPSTREAMS: not JSON/);
  assert.equal(target.count(), 0, 'nothing sent for any bad command line');
  assert.ok(cases.length > 150, `${cases.length} variants`);
});
