import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AuditEvent } from '@jwt-audit/events';
import { ingestHandler, signIngestBody } from './ingest.js';
import { closeServer, listen, prng } from './testdata/harness.js';

/** The ingest API accepts a signed body once: replays within the window are 409, not new events. */
const SECRET = 'ingest-secret-of-at-least-32-bytes-long';
const SKEW = 300;
let nowMs = Date.UTC(2026, 11, 2, 12, 0, 0);
const published: AuditEvent[] = [];
let server: http.Server;
let url: string;

before(async () => {
  server = http.createServer(
    ingestHandler({
      hmacKeys: [{ id: 'idp', secret: SECRET }],
      maxBodyBytes: 65_536,
      maxSkewSec: SKEW,
      replayCacheSize: 10_000,
      source: { service: 'interceptor', instance: 't', environment: 'test' },
      publish: (events) => (published.push(...events), true),
      canAccept: () => true,
      now: () => nowMs,
    }),
  );
  url = await listen(server);
});
after(() => closeServer(server));

const post = async (body: string, t = Math.floor(nowMs / 1000)) => {
  const res = await fetch(`${url}/audit/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-audit-signature': signIngestBody(SECRET, body, t), 'x-audit-key-id': 'idp' },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const event = (i: number, id?: string) => ({
  type: 'token.issued',
  occurredAt: new Date(nowMs).toISOString(),
  subject: `user-${i}`,
  token: { fingerprint: 'f'.repeat(64), typ: 'access' },
  ...(id ? { id } : {}),
});

it('every signed body is accepted once: a replay within the window gets 409 and publishes nothing', async () => {
  const bodies = Array.from({ length: 150 }, (_, i) =>
    JSON.stringify(i % 3 === 0 ? { events: [event(i), event(i + 1000)] } : event(i, i % 3 === 1 ? `prov-${i}` : undefined)),
  );
  for (const b of bodies) assert.equal((await post(b)).status, 202);
  const accepted = published.length;
  for (const b of bodies) {
    const replay = await post(b);
    assert.equal(replay.status, 409, b.slice(0, 60));
    assert.equal(replay.body.type, 'https://jwt-audit.dev/problems/replayed');
  }
  assert.equal(published.length, accepted, 'no replay became an event');
});

it('a provider event id seen within the window is refused even in a freshly signed body, alone or in a batch', async () => {
  const first = await post(JSON.stringify(event(1, 'evt-42')));
  assert.equal(first.status, 202);
  nowMs += 1_000;
  const again = await post(JSON.stringify({ ...event(2, 'evt-42'), subject: 'someone-else' }));
  assert.equal(again.status, 409);
  assert.deepEqual(
    (again.body.errors as Array<{ field: string }>).map((e) => e.field),
    ['id'],
  );
  const batch = await post(JSON.stringify({ events: [event(3, 'evt-43'), event(4, 'evt-42')] }));
  assert.equal(batch.status, 409);
  assert.deepEqual(
    (batch.body.errors as Array<{ field: string }>).map((e) => e.field),
    ['events[1].id'],
  );
  // nothing of the refused batch was remembered: evt-43 is still new
  assert.equal((await post(JSON.stringify(event(5, 'evt-43')))).status, 202);
});

it('past the window a signature is refused as stale, and an event id may come again', async () => {
  const body = JSON.stringify(event(7, 'evt-window'));
  const t = Math.floor(nowMs / 1000);
  assert.equal((await post(body, t)).status, 202);
  nowMs += (2 * SKEW + 1) * 1000;
  assert.equal((await post(body, t)).status, 401, 'the old signature is outside the window');
  assert.equal((await post(body)).status, 202, 'a fresh signature for the id, after the window');
});

it('a signed body is accepted once for as long as its signature is valid, whatever its timestamp and the clock within its second (generated)', async () => {
  let seed = 20261204;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 120; i++) {
    nowMs = Date.UTC(2026, 11, 3, 12, 0, 0) + i * 10_000_000 + Math.floor(rand() * 1000);
    const nowSec = Math.floor(nowMs / 1000);
    // a client clock anywhere in the window, the edges most of all
    const offset = i % 3 === 0 ? SKEW : i % 3 === 1 ? -SKEW : Math.floor(rand() * (2 * SKEW + 1)) - SKEW;
    const t = nowSec + offset;
    const body = JSON.stringify(event(10_000 + i, i % 2 === 0 ? `evt-edge-${i}` : undefined));
    assert.equal((await post(body, t)).status, 202, `first ${i}`);
    const acceptedAt = nowMs;
    // the last second the signature is valid in (|floor(now / 1000) - t| <= SKEW), then the first it is not
    for (const ms of [0, 1, 500, 999, 1000]) {
      nowMs = Math.max(acceptedAt, (t + SKEW) * 1000 + ms);
      const replay = await post(body, t);
      assert.equal(
        replay.status,
        ms < 1000 ? 409 : 401,
        `replay ${i} (t = now ${offset >= 0 ? '+' : ''}${offset} s) ${nowMs - acceptedAt} ms after it was accepted`,
      );
    }
  }
});
