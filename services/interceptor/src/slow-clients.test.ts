import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterceptor, type Interceptor } from './index.js';
import { quietLogger, startEchoUpstream, startTestAuthServer, testConfig } from './testdata/harness.js';

// Slow clients against a fresh interceptor (Kafka unreachable: events spool; serving is unaffected).
let dir: string;
let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let interceptor: Interceptor;
let url: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'interceptor-slow-'));
  auth = await startTestAuthServer();
  upstream = await startEchoUpstream();
  interceptor = createInterceptor(
    testConfig({
      brokers: ['127.0.0.1:1'],
      spoolDir: path.join(dir, 'spool'),
      jwksUrl: auth.jwksUrl,
      issuer: auth.issuer,
      audience: auth.audience,
      upstreams: { api: upstream.url },
      routes: [{ path: '/api/*', upstream: 'api' }],
      requestTimeoutMs: 1_500,
      headersTimeoutMs: 1_000,
      revocations: { enabled: false, startupTimeoutMs: 0 },
    }),
    { logger: quietLogger() },
  );
  url = (await interceptor.start()).url;
});
after(async () => {
  await interceptor?.stop();
  await auth?.close();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

function rawRequest(base: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(new URL(base).port), '127.0.0.1');
    let out = '';
    s.on('data', (c) => (out += c.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(bytes);
  });
}

it('cuts slowloris headers and slow bodies while serving everyone else', async () => {
  const token = await auth.sign();
  const get = () => fetch(`${url}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
  // slowloris: headers that never finish are cut, while others are served meanwhile
  const slow = net.connect(Number(new URL(url).port), '127.0.0.1');
  slow.write('GET /api/orders HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => slow.write('X-A: b\r\n'), 200);
  const closed = new Promise<void>((resolve) => slow.on('close', () => resolve()));
  slow.on('error', () => {});
  for (let i = 0; i < 5; i++) assert.equal((await get()).status, 200);
  await closed;
  clearInterval(drip);
  // and a slow body
  const slowBody = net.connect(Number(new URL(url).port), '127.0.0.1');
  slowBody.on('error', () => {});
  slowBody.write(`POST /api/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 1000\r\n\r\n`);
  const drip2 = setInterval(() => slowBody.write('x'), 100);
  await new Promise<void>((resolve) => slowBody.on('close', () => resolve()));
  clearInterval(drip2);
  // still serving (a fresh connection: the client's pooled ones may have been idle-closed meanwhile)
  const after = await rawRequest(url, Buffer.from(`GET /api/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`));
  assert.match(after, /^HTTP\/1\.1 200/);
});
