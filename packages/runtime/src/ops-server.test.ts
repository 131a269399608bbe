import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { startOpsServer } from './ops-server.js';
import { backoffDelay } from './backoff.js';
import { Writable } from 'node:stream';

const quiet = createLogger({ name: 'test', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('/metrics serves Prometheus text and /healthz follows health', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  const counter = metrics.counter('audit_test_events_total', 'events', ['outcome']);
  counter.inc({ outcome: 'ok' }, 3);
  assert.equal(metrics.counter('audit_test_events_total', 'events'), counter, 'same metric returned twice');
  let ok = true;
  const ops = await startOpsServer({ port: 0, registry: metrics.registry, health: () => ({ ok, consumer: ok ? 'running' : 'stopped' }), logger: quiet });
  t.after(() => ops.close());
  const m = await fetch(`${ops.url}/metrics`);
  assert.equal(m.status, 200);
  assert.match(await m.text(), /audit_test_events_total\{outcome="ok"\} 3/);
  const h1 = await fetch(`${ops.url}/healthz`);
  assert.equal(h1.status, 200);
  assert.deepEqual(await h1.json(), { status: 'ok', ok: true, consumer: 'running' });
  ok = false;
  const h2 = await fetch(`${ops.url}/healthz`);
  assert.equal(h2.status, 503);
  assert.equal(((await h2.json()) as { consumer: string }).consumer, 'stopped');
  assert.equal((await fetch(`${ops.url}/nope`)).status, 404);
});

test('backoff grows exponentially, is capped, and is jittered', () => {
  assert.equal(
    backoffDelay(0, 100, 10_000, () => 1),
    100,
  );
  assert.equal(
    backoffDelay(3, 100, 10_000, () => 1),
    800,
  );
  assert.equal(
    backoffDelay(20, 100, 10_000, () => 1),
    10_000,
  );
  assert.equal(
    backoffDelay(3, 100, 10_000, () => 0.5),
    400,
  );
  assert.equal(
    backoffDelay(3, 100, 10_000, () => 0),
    0,
  );
});
