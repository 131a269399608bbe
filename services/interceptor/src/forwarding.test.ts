/**
 * What the proxy does with bytes and failures between the client and the upstream: bodies both
 * ways (sized and chunked, large), repeated headers, bodiless answers, the body cap mid-stream, an
 * unreachable upstream, a silent one, and a client that leaves; each exchange still audited.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { TOPICS } from '@jwt-audit/events';
import { createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { createInterceptor, type Interceptor } from './index.js';
import { closeServer, collectEvents, listen, quietLogger, startTestAuthServer, testConfig, waitFor } from './testdata/harness.js';

const logger = quietLogger();
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Raw request through the proxy with node:http (chunked bodies, aborts, HEAD). */
function send(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; chunks?: Buffer[]; chunkDelayMs?: number },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${opts.path}`, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    void (async () => {
      for (const c of opts.chunks ?? []) {
        if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        if (opts.chunkDelayMs) await new Promise((r) => setTimeout(r, opts.chunkDelayMs));
      }
      req.end();
    })();
  });
}

describe('forwarding to the upstream', () => {
  let dir: string;
  let broker: Broker;
  let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
  let upstream: http.Server;
  let interceptor: Interceptor;
  let url: string;
  let token: string;
  let reader: Awaited<ReturnType<typeof collectEvents>>;
  const received: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders; body: Buffer }> = [];
  const cancelled: string[] = []; // upstream requests whose connection closed before they were answered
  const big = Buffer.alloc(1024 * 1024 + 7, 'x');
  for (let i = 0; i < big.length; i += 4096) big[i] = 48 + ((i / 4096) % 10);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'interceptor-fwd-'));
    broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
    const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
    await ensureTopics(kafka);
    auth = await startTestAuthServer();
    upstream = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
        const p = req.url ?? '';
        if (p.startsWith('/api/echo')) return res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-body-sha256': sha(body) }).end(body);
        if (p.startsWith('/api/big')) return res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(big.length) }).end(big);
        if (p.startsWith('/api/stream')) {
          res.writeHead(200, { 'content-type': 'text/plain' }); // chunked
          for (let i = 0; i < 50; i++) res.write(`line ${i}\n`);
          return res.end();
        }
        if (p.startsWith('/api/cookies'))
          return res
            .writeHead(201, [
              ['set-cookie', 'a=secret-one; HttpOnly'],
              ['set-cookie', 'b=secret-two'],
              ['content-type', 'application/json'],
            ])
            .end('{"ok":true}');
        if (p.startsWith('/api/empty')) return res.writeHead(204).end();
        if (p.startsWith('/api/silent')) return; // never answers
        if (p.startsWith('/api/slow')) {
          res.on('close', () => {
            if (!res.writableFinished) cancelled.push(p);
          });
          return void setTimeout(() => !res.destroyed && res.writeHead(200).end('late'), 1_000);
        }
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' }).end('hello');
      });
    });
    const upstreamUrl = await listen(upstream);
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const base = testConfig({
      brokers: [broker.address],
      spoolDir: path.join(dir, 'spool'),
      jwksUrl: auth.jwksUrl,
      issuer: auth.issuer,
      audience: auth.audience,
    });
    interceptor = createInterceptor(
      {
        ...base,
        upstreams: { api: upstreamUrl, gone: `http://127.0.0.1:${closedPort}` },
        routes: [
          { name: 'gone', path: '/gone/*', upstream: 'gone' },
          { name: 'api', path: '/api/*', upstream: 'api' },
        ],
        capture: { ...base.capture, bodies: 'both', maxBodyBytes: 1024 },
        maxRequestBodyBytes: 256 * 1024,
        upstreamTimeoutMs: 400,
      },
      { logger },
    );
    url = (await interceptor.start()).url;
    token = await auth.sign({ sub: 'fwd-user' });
    reader = await collectEvents(kafka, TOPICS.raw);
  });

  after(async () => {
    await reader?.stop();
    await interceptor?.stop();
    await closeServer(upstream);
    await auth?.close();
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const authz = () => ({ authorization: `Bearer ${token}` });
  const eventFor = (requestId: string) =>
    waitFor(`the event of ${requestId}`, () => reader.events.find((e) => e.http?.request.id === requestId && e.http.response !== null));

  it('forwards a sized body and a chunked body byte for byte, and captures their heads', async () => {
    const body = Buffer.from(JSON.stringify({ order: 1042, note: 'é'.repeat(300) }));
    const sized = await send(url, {
      method: 'POST',
      path: '/api/echo/1',
      headers: { ...authz(), 'content-type': 'application/json', 'content-length': String(body.length), 'x-request-id': 'fwd-sized' },
      chunks: [body],
    });
    assert.equal(sized.status, 200);
    assert.ok(sized.body.equals(body));
    assert.equal(received.at(-1)!.headers['content-length'], String(body.length));

    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(5_000, 65 + i));
    const chunked = await send(url, {
      method: 'PUT',
      path: '/api/echo/2',
      headers: { ...authz(), 'content-type': 'text/plain', 'x-request-id': 'fwd-chunked' },
      chunks,
      chunkDelayMs: 2,
    });
    assert.equal(chunked.status, 200);
    assert.equal(received.at(-1)!.method, 'PUT');
    assert.equal(received.at(-1)!.headers['transfer-encoding'], 'chunked');
    assert.equal(sha(received.at(-1)!.body), sha(Buffer.concat(chunks)), 'the upstream got every byte in order');
    assert.ok(chunked.body.equals(Buffer.concat(chunks)));

    const e = await eventFor('fwd-sized');
    assert.equal(e.kind, 'token.validated');
    assert.equal(e.http?.request.body?.size, body.length);
    assert.equal(e.http?.request.body?.truncated, false);
    const c = await eventFor('fwd-chunked');
    assert.equal(c.http?.request.body?.size, 100_000);
    assert.equal(c.http?.request.body?.truncated, true, 'capture stops at maxBodyBytes; forwarding does not');
    assert.equal(c.http?.request.body?.content, 'A'.repeat(1024));
    assert.equal(c.http?.request.body?.sha256, sha(Buffer.concat(chunks)));
  });

  it('streams large and chunked responses back whole, passes repeated Set-Cookie headers and bodiless answers', async () => {
    const large = await send(url, { path: '/api/big', headers: { ...authz(), 'x-request-id': 'fwd-big' } });
    assert.equal(large.status, 200);
    assert.equal(large.headers['content-length'], String(big.length));
    assert.ok(large.body.equals(big));
    const e = await eventFor('fwd-big');
    assert.equal(e.http?.response?.body?.size, big.length);
    assert.equal(e.http?.response?.body?.content, null, 'binary: size and hash only');
    assert.equal(e.http?.response?.body?.sha256, sha(big));

    const streamed = await send(url, { path: '/api/stream', headers: authz() });
    assert.equal(streamed.body.toString(), Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(''));

    const cookies = await send(url, { path: '/api/cookies', headers: { ...authz(), 'x-request-id': 'fwd-cookies' } });
    assert.equal(cookies.status, 201);
    assert.deepEqual(cookies.headers['set-cookie'], ['a=secret-one; HttpOnly', 'b=secret-two']);
    const ce = await eventFor('fwd-cookies');
    assert.match(
      ce.http?.response?.headers['set-cookie'] ?? '',
      /^hmac:test:[0-9a-f]{32}, hmac:test:[0-9a-f]{32}$/,
      'each cookie as its own keyed fingerprint',
    );
    assert.ok(!reader.raw.some((r) => r.includes('secret-one') || r.includes('secret-two')), 'no cookie value is published');

    assert.equal((await send(url, { path: '/api/empty', headers: authz() })).status, 204);
    const head = await send(url, { method: 'HEAD', path: '/api/plain', headers: authz() });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], '5');
  });

  it('answers 413 when a chunked body passes the cap mid-stream, and keeps serving', async () => {
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(16 * 1024, 'z')); // 640 KiB > 256 KiB
    const before = received.length;
    const r = await send(url, { method: 'POST', path: '/api/echo/too-big', headers: { ...authz(), 'x-request-id': 'fwd-413' }, chunks }).catch(
      (err: Error) => ({ status: -1, err }),
    );
    // the client gets the 413, or (having sent past it) a reset; either way the upstream never gets the whole body
    if (r.status !== -1) assert.equal(r.status, 413);
    const e = await eventFor('fwd-413');
    assert.equal(e.http?.response?.status, 413);
    assert.ok(!received.slice(before).some((x) => x.path === '/api/echo/too-big' && x.body.length >= 640 * 1024));
    assert.equal((await send(url, { path: '/api/plain', headers: authz() })).status, 200);
  });

  it('answers 502 for an unreachable upstream and 504 for a silent one, with problem documents, and audits both', async () => {
    const gone = await send(url, { path: '/gone/x', headers: { ...authz(), 'x-request-id': 'fwd-502' } });
    assert.equal(gone.status, 502);
    assert.equal(gone.headers['content-type'], 'application/problem+json');
    assert.equal(JSON.parse(gone.body.toString()).status, 502);
    const silent = await send(url, { path: '/api/silent', headers: { ...authz(), 'x-request-id': 'fwd-504' } });
    assert.equal(silent.status, 504);
    assert.equal(JSON.parse(silent.body.toString()).status, 504);
    assert.equal((await eventFor('fwd-502')).http?.response?.status, 502);
    assert.equal((await eventFor('fwd-504')).http?.response?.status, 504);
  });

  it('records 499 when the client leaves before the upstream answers, and cancels the upstream request', async () => {
    const req = http.request(`${url}/api/slow`, { headers: { ...authz(), 'x-request-id': 'fwd-499' } });
    req.on('error', () => {});
    req.end();
    // the upstream has the request (it answers only after 1 s): the client leaves before the answer
    await waitFor('the request upstream', () => received.some((r) => r.path === '/api/slow'));
    req.destroy();
    assert.equal((await eventFor('fwd-499')).http?.response?.status, 499);
    await waitFor('the upstream request cancelled', () => cancelled.includes('/api/slow'), 2_000);
    assert.equal((await send(url, { path: '/api/plain', headers: authz() })).status, 200);
  });
});
