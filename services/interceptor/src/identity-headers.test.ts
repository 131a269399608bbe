import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { TOPICS } from '@jwt-audit/events';
import { createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { invalidForwardedFor, networkOf, trustedProxies } from '@jwt-audit/edge';
import { isForwardingHeader, isSubjectHeader } from './identity-headers.js';
import { createInterceptor, interceptHandler, type Interceptor } from './index.js';
import { closeServer, collectEvents, listen, quietLogger, startEchoUpstream, startTestAuthServer, testConfig, waitFor } from './testdata/harness.js';

const logger = quietLogger();

/** Every spelling of a header name an upstream framework may read as the same header: case, and `_` for `-`. */
function spellings(name: string): string[] {
  const out = new Set<string>();
  const parts = name.split('-');
  for (let mask = 0; mask < 1 << (parts.length - 1); mask++) {
    const joined = parts.reduce((acc, p, i) => (i === 0 ? p : acc + ((mask >> (i - 1)) & 1 ? '_' : '-') + p), '');
    out.add(joined);
    out.add(joined.toUpperCase());
    out.add(joined.replace(/(^|[-_])([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase()));
  }
  return [...out];
}

const FORWARDING = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-user',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
];

function send(url: string, p: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}${p}`, { headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('identity and forwarding headers (pure)', () => {
  it('recognises every spelling of the subject header and of the forwarding headers, and nothing else', () => {
    for (const s of spellings('x-auth-subject')) assert.ok(isSubjectHeader(s.toLowerCase(), 'x-auth-subject'), s);
    for (const name of FORWARDING) for (const s of spellings(name)) assert.ok(isForwardingHeader(s.toLowerCase()), s);
    for (const other of ['x-auth-subjects', 'x-auth', 'authorization', 'x-request-id', 'forwarded-x', 'x-forwardedfor', 'host', 'x-auth-subjec']) {
      assert.ok(!isSubjectHeader(other, 'x-auth-subject'), other);
      assert.ok(!isForwardingHeader(other), other);
    }
    assert.ok(!isSubjectHeader('x-auth-subject', ''), 'no subject header configured: nothing is one');
  });

  it('puts only IP addresses into network.forwardedFor, whatever X-Forwarded-For holds, and counts the rest', () => {
    const junk = [
      'unknown',
      '_hidden',
      '_SEVKISEK',
      'obfuscated',
      '',
      ' ',
      'localhost',
      '300.1.1.1',
      '1.2.3',
      '1.2.3.4.5',
      '::g',
      '[::1',
      ' 1.2.3.4 5',
      '<script>',
      '1.2.3.4/24',
      '0x7f000001',
      '١.٢.٣.٤',
      'null',
      '"1.2.3.4"',
    ];
    const good = ['1.2.3.4', '10.0.0.1:8080', '[2001:db8::1]:443', '2001:db8::1', '::ffff:192.0.2.1', 'fe80::1%eth0', 'fe80::1%', '[::1]'];
    let checked = 0;
    // every combination of one or two entries, in either order, with a trusted chain and without
    for (const trusted of [[], ['127.0.0.1']]) {
      const t = trustedProxies(trusted);
      for (const a of [...junk, ...good]) {
        for (const b of [...junk, ...good]) {
          const xff = `${a}, ${b}`;
          const n = networkOf('127.0.0.1', xff, 'ua', t);
          for (const ip of n.forwardedFor) assert.ok(isIP(ip) !== 0 && !ip.includes('%'), `${JSON.stringify(xff)} gave ${ip}`);
          if (n.clientIp !== null) assert.ok(isIP(n.clientIp) !== 0 && !n.clientIp.includes('%'), `${JSON.stringify(xff)} gave client ${n.clientIp}`);
          const bad = [a, b].filter((x) => x.trim() !== '' && junk.includes(x)).length;
          assert.equal(invalidForwardedFor(xff), bad, JSON.stringify(xff));
          checked++;
        }
      }
    }
    assert.ok(checked > 1000);
    assert.deepEqual(networkOf('127.0.0.1', 'unknown, 203.0.113.9', null as unknown as undefined, trustedProxies([])).forwardedFor, ['203.0.113.9']);
  });
});

describe('identity and forwarding headers through the proxy and the middleware', () => {
  let dir: string;
  let broker: Broker;
  let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let untrusted: Interceptor;
  let trusted: Interceptor;
  let embedded: Interceptor;
  let app: http.Server;
  let appUrl: string;
  let reader: Awaited<ReturnType<typeof collectEvents>>;
  const appSaw: Array<{ headers: IncomingHttpHeaders; raw: string[] }> = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'identity-'));
    broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
    const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
    await ensureTopics(kafka);
    auth = await startTestAuthServer();
    upstream = await startEchoUpstream();
    const config = (name: string, trustedProxyList: string[]) =>
      testConfig({
        brokers: [broker.address],
        spoolDir: path.join(dir, `spool-${name}`),
        jwksUrl: auth.jwksUrl,
        issuer: auth.issuer,
        audience: auth.audience,
        upstreams: { api: upstream.url },
        routes: [
          { name: 'open', path: '/open/*', upstream: 'api', auth: 'none' },
          { name: 'api', path: '/api/*', upstream: 'api' },
        ],
        trustedProxies: trustedProxyList,
        revocations: { enabled: false, startupTimeoutMs: 1_000 },
      });
    untrusted = createInterceptor(config('untrusted', []), { logger });
    trusted = createInterceptor(config('trusted', ['127.0.0.1']), { logger });
    embedded = createInterceptor(config('embedded', []), { logger, serve: false });
    await Promise.all([untrusted.start(), trusted.start(), embedded.start()]);
    app = http.createServer(
      interceptHandler(embedded, (req, res) => {
        appSaw.push({ headers: { ...req.headers }, raw: [...req.rawHeaders] });
        res.writeHead(200).end('ok');
      }),
    );
    appUrl = await listen(app);
    reader = await collectEvents(kafka, TOPICS.raw);
  });

  after(async () => {
    await reader?.stop();
    if (app) await closeServer(app);
    await Promise.all([untrusted?.stop(), trusted?.stop(), embedded?.stop()]);
    await upstream?.close();
    await auth?.close();
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('from an untrusted peer, removes every forwarding header and every spelling of the subject header, and sends its own', async () => {
    const url = (await untrusted.start()).url;
    const token = await auth.sign({ sub: 'alice' });
    const variants = [
      ...FORWARDING.flatMap(spellings).map((h) => [h, '203.0.113.66'] as const),
      ...spellings('x-auth-subject').map((h) => [h, 'mallory'] as const),
    ];
    let n = 0;
    for (const [name, value] of variants) {
      for (const withToken of [false, true]) {
        const before = upstream.seen.length;
        const p = withToken ? `/api/v${n++}` : `/open/v${n++}`;
        const a = await send(url, p, { [name]: value, ...(withToken ? { authorization: `Bearer ${token}` } : {}) });
        assert.equal(a.status, 200, `${name}: ${a.body}`);
        const seen = upstream.seen[before]!;
        assert.equal(seen.url, p);
        const h = seen.headers;
        for (const [k, v] of Object.entries(h))
          assert.ok(!String(v).includes('203.0.113.66') && v !== 'mallory', `${name}: the client's value reached the upstream as ${k}: ${String(v)}`);
        assert.equal(h['x-forwarded-for'], '127.0.0.1', name);
        assert.equal(h['x-real-ip'], '127.0.0.1', name);
        assert.equal(h['x-forwarded-proto'], 'http', name);
        assert.match(String(h.forwarded), /^for=127\.0\.0\.1;proto=http;host="127\.0\.0\.1:\d+"$/, name);
        // the subject header, in any spelling, only as the interceptor set it from a verified token
        const subjects = Object.keys(h).filter((k) => isSubjectHeader(k, 'x-auth-subject'));
        assert.deepEqual(
          subjects.map((k) => h[k]),
          withToken ? ['alice'] : [],
          name,
        );
      }
    }
  });

  it("from a trusted proxy, keeps its chain and appends to it; the subject header is still only the interceptor's", async () => {
    const url = (await trusted.start()).url;
    const before = upstream.seen.length;
    const a = await send(url, '/open/chain', {
      'x-forwarded-for': '198.51.100.7',
      forwarded: 'for=198.51.100.7;proto=https',
      'x-forwarded-proto': 'https',
      'x-real-ip': '198.51.100.7',
      x_auth_subject: 'mallory',
    });
    assert.equal(a.status, 200);
    const h = upstream.seen[before]!.headers;
    assert.equal(h['x-forwarded-for'], '198.51.100.7, 127.0.0.1');
    assert.match(String(h.forwarded), /^for=198\.51\.100\.7;proto=https, for=127\.0\.0\.1;proto=http;host="/);
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-real-ip'], '198.51.100.7');
    assert.equal(Object.keys(h).filter((k) => isSubjectHeader(k, 'x-auth-subject')).length, 0);
  });

  it('an X-Forwarded-For entry that is not an address is flagged and counted, never put in an IP field', async () => {
    const url = (await trusted.start()).url;
    const a = await send(url, '/open/xff-unknown', { 'x-forwarded-for': 'unknown, _hidden, 192.0.2.10', 'x-request-id': 'xff-unknown' });
    assert.equal(a.status, 200);
    const e = await waitFor('the event', () => reader.events.find((x) => x.http?.request.id === 'xff-unknown'));
    assert.deepEqual(e.network!.forwardedFor, ['192.0.2.10']);
    assert.equal(e.network!.clientIp, '192.0.2.10');
    assert.equal(e.attributes['network.invalidForwardedFor'], '2');
    assert.match(await trusted.metrics.registry.metrics(), /^audit_interceptor_invalid_forwarded_for_total 2$/m);
  });

  it("embedded mode: the application never sees a client-sent subject header, in any spelling; a verified token's subject it does", async () => {
    const token = await auth.sign({ sub: 'alice' });
    for (const name of spellings('x-auth-subject')) {
      for (const withToken of [false, true]) {
        const before = appSaw.length;
        // an unauthenticated route, and one whose token verified
        const a = await send(appUrl, withToken ? '/api/x' : '/open/x', { [name]: 'mallory', ...(withToken ? { authorization: `Bearer ${token}` } : {}) });
        assert.equal(a.status, 200);
        const saw = appSaw[before]!;
        const subjects = Object.keys(saw.headers).filter((k) => isSubjectHeader(k, 'x-auth-subject'));
        const expected = withToken ? ['alice'] : [];
        assert.deepEqual(
          subjects.map((k) => saw.headers[k]),
          expected,
          name,
        );
        assert.ok(!saw.raw.includes('mallory'), `${name}: the client's value is in rawHeaders`);
      }
    }
  });
});
