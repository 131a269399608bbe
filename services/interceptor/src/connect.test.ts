import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { collectEvents, startEchoUpstream, startStack, startTestAuthServer, waitFor } from './testdata/harness.js';

/**
 * CONNECT never reaches a request handler in node:http (the server emits 'connect', and without
 * a listener drops the connection unaudited). The interceptor answers it 405 with a problem
 * document, audits it as an http.exchange with the reason, opens no tunnel and closes.
 */
let stack: Awaited<ReturnType<typeof startStack>>;
let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let url: string;
let reader: Awaited<ReturnType<typeof collectEvents>>;

before(async () => {
  // a catch-all without authentication: if CONNECT reached any route it would be let through
  stack = await startStack({ name: 'connect', routes: [{ name: 'all', path: '/*', upstream: 'api', auth: 'none' }] });
  ({ auth, upstream, url, reader } = stack);
});

after(async () => {
  await stack?.stop();
});

/** Writes `bytes` on a fresh connection and reads until the interceptor closes it. */
function exchange(bytes: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve(out));
  });
}

it('answers every CONNECT 405 with a problem and an empty Allow, audits it, tunnels nothing and closes', async () => {
  const upstreamPort = new URL(upstream.url).port;
  const token = await auth.sign({ sub: 'alice' });
  // targets: authority-form (to anywhere, to the upstream itself), and forms CONNECT should never carry
  const targets = ['example.com:443', `127.0.0.1:${upstreamPort}`, '[::1]:443', '/api/orders', '*', `http://127.0.0.1:${upstreamPort}/`];
  const extras = ['', `authorization: Bearer ${token}\r\n`, 'proxy-authorization: Basic dTpw\r\n'];
  // bytes a client would send through the tunnel at once: they must not reach anything
  const tunnelled = `GET /tunnelled HTTP/1.1\r\nhost: 127.0.0.1:${upstreamPort}\r\n\r\n`;
  const sent: string[] = [];
  for (const target of targets) {
    for (const extra of extras) {
      for (const after of ['', tunnelled]) {
        const requestId = `connect-${sent.length}`;
        sent.push(requestId);
        const raw = await exchange(
          `CONNECT ${target} HTTP/1.1\r\nhost: ${target.startsWith('/') || target === '*' ? 'x' : target}\r\nx-request-id: ${requestId}\r\n${extra}\r\n${after}`,
        );
        const [head = '', body = ''] = raw.split('\r\n\r\n');
        assert.match(head, /^HTTP\/1\.1 405 /, `${target}: ${raw.slice(0, 80)}`);
        assert.match(head, /\r\nallow: \r\n/i, 'an empty Allow (RFC 9110 10.2.1)');
        assert.match(head, /\r\nconnection: close/i);
        assert.match(head, /content-type: application\/problem\+json/);
        const problem = JSON.parse(body) as { type: string; status: number; reason: string };
        assert.equal(problem.type, 'https://jwt-audit.dev/problems/method-not-allowed');
        assert.equal(problem.reason, 'method_not_allowed');
        assert.ok(!raw.includes('HTTP/1.1 200'), 'nothing after the refusal: no tunnel, the next request is not read');
      }
    }
  }
  const events = await waitFor('every CONNECT audited', () => {
    const mine = reader.events.filter((e) => e.http?.request.method === 'CONNECT');
    return mine.length >= sent.length ? mine : undefined;
  });
  for (const e of events) {
    assert.equal(e.kind, 'http.exchange');
    assert.equal(e.http?.response?.status, 405);
    assert.equal(e.attributes['http.refusal'], 'method_not_allowed');
    assert.equal(e.token, null, 'no token is verified for a refused method');
    assert.equal(e.network?.clientIp, '127.0.0.1');
  }
  assert.deepEqual(events.map((e) => e.http?.request.id).sort(), [...sent].sort());
  assert.ok(
    events.some((e) => e.http?.request.path === 'example.com:443'),
    'the target recorded as sent',
  );
  assert.equal(upstream.seen.length, 0, 'the upstream saw nothing: neither the CONNECT nor the tunnelled request');
  // and the interceptor still serves
  const ok = await fetch(`${url}/after`);
  assert.equal(ok.status, 200);
});
