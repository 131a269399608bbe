import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterceptor, type Interceptor } from './index.js';
import { quietLogger, startEchoUpstream, startTestAuthServer, testConfig, waitFor } from './testdata/harness.js';

// Connection caps against a fresh interceptor (Kafka unreachable: events spool; serving is unaffected).
let dir: string;
let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let interceptor: Interceptor;
let port: number;
let opsUrl: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'interceptor-conns-'));
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
      routes: [{ path: '/api/*', upstream: 'api', auth: 'none' }],
      connections: { max: 12, maxPerIp: 4 },
      revocations: { enabled: false, startupTimeoutMs: 0 },
    }),
    { logger: quietLogger(), ops: true },
  );
  const started = await interceptor.start();
  port = Number(new URL(started.url).port);
  opsUrl = started.opsUrl!;
});
after(async () => {
  await interceptor?.stop();
  await auth?.close();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A connection from a loopback address of its own (Linux routes all of 127/8 to lo). */
function open(from: string): Promise<{ socket: Socket; first: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    let out = '';
    const first = new Promise<string>((r) => {
      socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
      socket.on('close', () => r(out));
    });
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, first }));
    socket.once('error', reject);
  });
}

const request = async (from: string) => {
  const c = await open(from);
  c.socket.write('GET /api/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  return c.first;
};

it('refuses connections over the per-address cap and over the total cap with a 503 problem, counts them, and takes new ones once others close', async () => {
  const held: Socket[] = [];
  for (let i = 0; i < 4; i++) held.push((await open('127.0.0.2')).socket);
  await waitFor('4 open connections', async () => /^audit_interceptor_open_connections 4$/m.test(await (await fetch(`${opsUrl}/metrics`)).text()));
  const overPerIp = await request('127.0.0.2');
  assert.match(overPerIp, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(overPerIp, /content-type: application\/problem\+json/);
  assert.match(overPerIp, /"type":"https:\/\/jwt-audit.dev\/problems\/too-many-connections"/);
  // another address is not affected
  assert.match(await request('127.0.0.3'), /^HTTP\/1\.1 200 /);
  // fill the total: 4 + 4 + 4 = 12
  for (let i = 0; i < 4; i++) held.push((await open('127.0.0.4')).socket);
  for (let i = 0; i < 4; i++) held.push((await open('127.0.0.5')).socket);
  await waitFor('12 open connections', async () => /^audit_interceptor_open_connections 12$/m.test(await (await fetch(`${opsUrl}/metrics`)).text()));
  assert.match(await request('127.0.0.6'), /^HTTP\/1\.1 503 /);
  // one closes: room again
  const closed = new Promise((r) => held[0]!.once('close', r));
  held[0]!.destroy();
  await closed;
  await waitFor('a free slot', async () => /^audit_interceptor_open_connections 11$/m.test(await (await fetch(`${opsUrl}/metrics`)).text()));
  assert.match(await request('127.0.0.6'), /^HTTP\/1\.1 200 /);
  const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
  assert.match(metrics, /^audit_interceptor_refused_connections_total\{reason="max_connections_per_ip"\} 1$/m);
  assert.match(metrics, /^audit_interceptor_refused_connections_total\{reason="max_connections"\} 1$/m);
  for (const s of held) s.destroy();
});
