import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { TOPICS, approvalCodec, type ApprovalRecord } from '@jwt-audit/events';
import { ApprovalBook, approvalKey, type Exchange } from '@jwt-audit/edge';
import { ApprovalGate } from './approvals.js';
import type { SpoolRecord } from './spool.js';
import { quietLogger } from './testdata/harness.js';

/**
 * The gate's side of a ticket's use, with the log played by the test: what the gate enqueues is
 * read back (or not) in the order the test chooses, as the follower applies a partition. The
 * two-interceptor race on the embedded broker is in approvals.test.ts.
 */

const T = Date.now();
const fingerprint = 'f'.repeat(64);
const actor = { sub: 'alice', clientId: null, tenant: null, roles: [], scopes: [] };
const exchange: Exchange = {
  startedAt: T,
  request: { id: null, method: 'DELETE', scheme: 'http', host: 'edge', path: '/api/admin/x', route: 'admin', query: null, headers: {}, body: null },
  response: null,
  network: null,
  trace: null,
};

function setup(o: { accept?: boolean; claimTimeoutMs?: number } = {}) {
  const enqueued: SpoolRecord[] = [];
  const sink = { enqueue: (rs: SpoolRecord[]) => (o.accept === false ? false : (enqueued.push(...rs), true)), canAccept: () => o.accept !== false };
  const book = new ApprovalBook();
  const gate = new ApprovalGate({
    book,
    sink,
    source: { service: 'interceptor', instance: 'edge-1', environment: 'test' },
    logger: quietLogger(),
    ...(o.claimTimeoutMs ? { claimTimeoutMs: o.claimTimeoutMs } : {}),
  });
  const id = randomUUID();
  const rec = (r: Omit<ApprovalRecord, 'approvalId' | 'schemaVersion'>): ApprovalRecord => ({ approvalId: id, schemaVersion: 1, ...r });
  const requested = rec({
    step: 'requested',
    at: T,
    by: 'alice',
    reason: null,
    request: {
      fingerprint,
      requester: 'alice',
      clientId: null,
      rule: 'r',
      route: 'admin',
      method: 'DELETE',
      path: '/api/admin/x',
      mode: 'ticket',
      approversRequired: 1,
      decideBy: T + 60_000,
      validSec: 300,
      instance: 'edge-0',
    },
  });
  const granted = rec({ step: 'granted', at: T + 1, by: 'bob', reason: null, request: null });
  for (const r of [requested, granted]) book.apply(approvalKey(r), r);
  /** The claims the gate wrote, as the log would carry them. */
  const claims = () => enqueued.filter((r) => r.topic === TOPICS.approvals && String(r.key).startsWith('use:'));
  /** The follower reads these records back (in this order). */
  const readBack = (records: Array<{ key: string; value: ApprovalRecord }>) => {
    for (const r of records) book.apply(r.key, r.value);
    gate.changed(id);
  };
  const decoded = (r: SpoolRecord) => ({
    key: String(r.key),
    value: approvalCodec.decode(r.value!, Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)]))),
  });
  const until = async (cond: () => boolean) => {
    while (!cond()) await new Promise((resolve) => setImmediate(resolve));
  };
  return { gate, book, id, enqueued, claims, readBack, decoded, until, rec };
}

describe('a ticket use is claimed on the log and forwarded only when the claim reads back first', () => {
  it('its own claim read back first: ok, the use ended and audited; nothing is forwarded before the read-back', async () => {
    const s = setup();
    let settled = false;
    const use = s.gate.use(s.id, 'alice', fingerprint, { actor, exchange }).finally(() => (settled = true));
    await s.until(() => s.claims().length === 1);
    const claim = s.decoded(s.claims()[0]!);
    assert.match(claim.key, new RegExp(`^use:${s.id}:[0-9a-f-]{36}$`));
    assert.deepEqual([claim.value.step, claim.value.by], ['used', 'edge-1']);
    assert.equal(s.book.get(s.id, Date.now())?.status, 'granted', 'the claim is not applied before the log brings it back');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false);
    s.readBack([claim]);
    const r = await use;
    assert.equal(r.ok, true);
    assert.equal(s.book.get(s.id, Date.now())?.status, 'used');
    assert.ok(
      s.enqueued.some((x) => x.topic === TOPICS.approvals && x.key === `end:${s.id}`),
      'the end record is written',
    );
    assert.equal(s.enqueued.filter((x) => x.topic === TOPICS.raw).length, 1, 'one approval.used event');
  });

  it('another claim earlier in the log wins (generated: 1-4 earlier claims from other instances, any clocks): 403 approval_used', async () => {
    for (let round = 0; round < 20; round++) {
      const s = setup();
      const use = s.gate.use(s.id, 'alice', fingerprint, { actor, exchange });
      await s.until(() => s.claims().length === 1);
      const others = Array.from({ length: 1 + (round % 4) }, (_, k) => ({
        key: `use:${s.id}:${randomUUID()}`,
        value: s.rec({ step: 'used', at: T + 5 + ((round * 7919 + k * 104729) % 200_000), by: `edge-${2 + k}`, reason: null, request: null }),
      }));
      s.readBack([...others, s.decoded(s.claims()[0]!)]);
      const r = await use;
      assert.deepEqual([r.ok, !r.ok && r.code], [false, 'approval_used'], `round ${round}`);
      assert.equal(s.book.get(s.id, Date.now())?.usedBy?.instance, others[0]!.value.by);
      assert.ok(!s.enqueued.some((x) => x.key === `end:${s.id}`), 'the loser writes no use');
    }
  });

  it('fail closed: a claim not read back in time is 403 claim_unconfirmed; a sink that refuses is too; a second use in flight on the instance is refused at once', async () => {
    const lost = setup({ claimTimeoutMs: 50 });
    const r = await lost.gate.use(lost.id, 'alice', fingerprint, { actor, exchange });
    assert.deepEqual([r.ok, !r.ok && r.code], [false, 'claim_unconfirmed']);
    assert.ok(!lost.enqueued.some((x) => x.key === `end:${lost.id}`));

    const full = setup({ accept: false });
    const f = await full.gate.use(full.id, 'alice', fingerprint, { actor, exchange });
    assert.deepEqual([f.ok, !f.ok && f.code], [false, 'claim_unconfirmed']);

    const s = setup();
    const first = s.gate.use(s.id, 'alice', fingerprint, { actor, exchange });
    await s.until(() => s.claims().length === 1);
    const second = await s.gate.use(s.id, 'alice', fingerprint, { actor, exchange });
    assert.deepEqual([second.ok, !second.ok && second.code], [false, 'approval_used']);
    assert.equal(s.claims().length, 1, 'the second writes no claim');
    s.readBack([s.decoded(s.claims()[0]!)]);
    assert.equal((await first).ok, true);
  });

  it('the checks come before any claim: wrong subject, another request, pending, unknown write nothing', async () => {
    const s = setup();
    for (const [sub, fp, id, code] of [
      ['mallory', fingerprint, s.id, 'wrong_subject'],
      ['alice', 'e'.repeat(64), s.id, 'request_mismatch'],
      ['alice', fingerprint, randomUUID(), 'unknown_approval'],
    ] as const) {
      const r = await s.gate.use(id, sub, fp, { actor, exchange });
      assert.deepEqual([r.ok, !r.ok && r.code], [false, code]);
    }
    assert.equal(s.enqueued.length, 0);
  });
});
