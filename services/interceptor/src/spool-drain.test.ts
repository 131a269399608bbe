import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { TOPICS } from '@jwt-audit/events';
import { createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { createInterceptor, type Interceptor } from './index.js';
import type { InterceptorConfig } from './config.js';
import { SimDisk } from './testdata/sim-disk.js';
import { collectEvents, quietLogger, startEchoUpstream, startTestAuthServer, testConfig, waitFor } from './testdata/harness.js';

const logger = quietLogger();
let dir: string;
let broker: Broker | undefined;
let port: number;
let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
const running: Interceptor[] = [];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'interceptor-spool-'));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  port = broker.port;
  await ensureTopics(createKafkaClient({ brokers: [broker.address], clientId: 't' }, logger));
  auth = await startTestAuthServer();
  upstream = await startEchoUpstream();
});
after(async () => {
  for (const i of running) await i.stop();
  await broker?.close();
  await auth?.close();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

const config = (over: Partial<InterceptorConfig> = {}) =>
  testConfig({
    brokers: [`127.0.0.1:${port}`],
    spoolDir: path.join(dir, 'spool'),
    jwksUrl: auth.jwksUrl,
    issuer: auth.issuer,
    audience: auth.audience,
    upstreams: { api: upstream.url },
    routes: [
      { name: 'admin', path: '/admin/*', upstream: 'api', onSpoolFull: 'fail-closed' },
      { name: 'api', path: '/api/*', upstream: 'api' },
    ],
    revocations: { enabled: false, startupTimeoutMs: 0 },
    ...over,
  });

async function start(c: InterceptorConfig): Promise<{ i: Interceptor; url: string }> {
  const i = createInterceptor(c, { logger });
  running.push(i);
  return { i, url: (await i.start()).url };
}

it('spools while the broker is down, drains in order when it returns and after a restart, without loss', async () => {
  const tokens = { s1: await auth.sign({ sub: 's1' }), s2: await auth.sign({ sub: 's2' }) };
  const { i, url } = await start(config());
  const call = (sub: 's1' | 's2', n: number) => fetch(`${url}/api/x`, { headers: { authorization: `Bearer ${tokens[sub]}`, 'x-request-id': `${sub}-${n}` } });
  let n = 0;
  for (; n < 5; n++) assert.equal((await call(n % 2 ? 's1' : 's2', n)).status, 200);
  await waitFor('published', () => i.publisher.health().queued === 0 && i.publisher.health().spooledRecords === 0);

  await broker!.close();
  broker = undefined;
  for (; n < 25; n++) assert.equal((await call(n % 2 ? 's1' : 's2', n)).status, 200, 'requests are served while Kafka is away');
  await waitFor('spooled', () => i.publisher.health().spooledRecords >= 20 && i.publisher.health().queued === 0, 20_000); // one event per request
  assert.equal(i.publisher.health().kafka, false);

  broker = await startBroker({ dir: path.join(dir, 'kafka'), port });
  for (; n < 30; n++) assert.equal((await call(n % 2 ? 's1' : 's2', n)).status, 200);
  await waitFor('drained', () => i.publisher.health().spooledRecords === 0 && i.publisher.health().queued === 0, 30_000);

  // a restart with a non-empty spool: stop while Kafka is away, start again once it is back
  await broker.close();
  broker = undefined;
  for (; n < 40; n++) assert.equal((await call(n % 2 ? 's1' : 's2', n)).status, 200);
  await i.stop();
  running.pop();
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port });
  const second = await start(config());
  await waitFor('drained after restart', () => second.i.publisher.health().spooledRecords === 0, 30_000);

  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'reader' }, logger);
  const reader = await collectEvents(kafka, TOPICS.raw);
  try {
    const exchanges = await waitFor(
      'every exchange',
      () => {
        const x = reader.events.filter((e) => e.kind === 'token.validated' && e.http?.request.id);
        return new Set(x.map((e) => e.http!.request.id)).size >= 40 ? x : undefined;
      },
      20_000,
    );
    const ids = new Set(exchanges.map((e) => e.http!.request.id));
    for (let k = 0; k < 40; k++) assert.ok(ids.has(`${k % 2 ? 's1' : 's2'}-${k}`), `exchange ${k} delivered`);
    for (const sub of ['s1', 's2']) {
      // first delivery of each request, in partition order: strictly increasing per subject
      const seq = exchanges.filter((e) => e.actor.sub === sub).map((e) => Number(e.http!.request.id!.split('-')[1]));
      const firsts = seq.filter((v, idx) => seq.indexOf(v) === idx);
      assert.deepEqual(
        firsts,
        [...firsts].sort((a, b) => a - b),
        `order kept for ${sub}`,
      );
    }
  } finally {
    await reader.stop();
  }
});

it('fail-closed routes answer 503 when the spool is full; fail-open routes keep serving and count the loss', async () => {
  await broker?.close();
  broker = undefined;
  const token = await auth.sign({ sub: 's3' });
  const { i, url } = await start(config({ spool: { dir: path.join(dir, 'spool-small'), maxBytes: 1024, fsync: 'never' } }));
  const call = (p: string) => fetch(`${url}${p}`, { headers: { authorization: `Bearer ${token}` } });
  await waitFor(
    'spool full',
    async () => {
      await call('/api/fill');
      return !i.publisher.canAccept();
    },
    20_000,
    10,
  );
  assert.equal((await call('/admin/users')).status, 503);
  assert.equal((await call('/api/still-open')).status, 200);
  await waitFor('loss counted', async () => /audit_interceptor_lost_events_total\{reason="spool_full"\} [1-9]/.test(await i.metrics.registry.metrics()));
  assert.equal(i.publisher.health().kafka, false);
});

it('a nearly full spool filesystem (below spool.minFreeBytes): fail-closed routes 503, /healthz 503 naming it, losses counted by reason', async () => {
  await broker?.close();
  broker = undefined;
  const token = await auth.sign({ sub: 's4' });
  const spoolDir = path.join(dir, 'spool-disk');
  const disk = new SimDisk(512 * 1024, spoolDir);
  const c = config({ spool: { dir: spoolDir, maxBytes: 64 * 1024 * 1024, fsync: 'never', minFreeBytes: 256 * 1024 }, ops: { port: 0 } });
  const i = createInterceptor(c, { logger, spoolFs: disk });
  running.push(i);
  const { url, opsUrl } = await i.start();
  const call = (p: string) => fetch(`${url}${p}`, { headers: { authorization: `Bearer ${token}` } });
  await waitFor(
    'reserve reached',
    async () => {
      await Promise.all(Array.from({ length: 20 }, () => call('/api/fill')));
      return !i.publisher.canAccept();
    },
    30_000,
    10,
  );
  assert.equal((await call('/admin/users')).status, 503);
  assert.equal((await call('/api/still-open')).status, 200);
  const h = await fetch(`${opsUrl}/healthz`);
  assert.equal(h.status, 503);
  const body = (await h.json()) as { spoolRoom: boolean; kafka: boolean; spoolFreeBytes: number };
  assert.equal(body.spoolRoom, false);
  assert.equal(body.kafka, false);
  assert.ok(body.spoolFreeBytes < 256 * 1024 + 64 * 1024);
  assert.ok(disk.used() <= 512 * 1024 - 200 * 1024, 'the reserve is left free');
  // fail-open traffic goes on while there is no room: each of its events is a counted loss (the
  // publisher meets them when its loop next runs, which a loaded machine can delay)
  await waitFor(
    'loss counted',
    async () => {
      await call('/api/still-open');
      return /audit_interceptor_lost_events_total\{reason="spool_full"\} [1-9]/.test(await i.metrics.registry.metrics());
    },
    60_000,
    200,
  );
  assert.ok(disk.used() <= 512 * 1024 - 200 * 1024, 'still no write into the reserve');
  assert.match(await (await fetch(`${opsUrl}/metrics`)).text(), /audit_interceptor_spool_free_bytes \d+/);
});
