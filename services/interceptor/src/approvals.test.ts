import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decideApproval, runAudit } from '@jwt-audit/cli';
import { waitFor } from './testdata/harness.js';
import { cli, startApprovalStack } from './testdata/approval-stack.js';

type Stack = Awaited<ReturnType<typeof startApprovalStack>>;

/** The first instance's pending approval of a rule (a held request has no id the client sees before it ends). */
const pendingOf = (s: Stack, i: 'a' | 'b', rule: string) =>
  s[i].approvals.book
    .ids()
    .map((id) => s[i].approvals.book.get(id, Date.now())!)
    .find((v) => v.request.rule === rule && v.status === 'pending');

describe('just-in-time approval on the embedded broker, two interceptors sharing it', () => {
  let s: Stack;
  before(async () => {
    s = await startApprovalStack();
  });
  after(async () => {
    await s?.stop();
  });
  const send: Stack['send'] = (...args) => s.send(...args);
  const callback: Stack['callback'] = (...args) => s.callback(...args);
  const seenUpstream = (p: string) => s.seenUpstream(p);
  const events = (id: string, kind: string) => s.events(id, kind);
  const ticket = async (p: string, body?: unknown, base = s.urlA) => {
    const r = await send(base, body === undefined ? 'DELETE' : 'POST', p, body === undefined ? {} : { body });
    assert.equal(r.status, 403);
    assert.equal(r.body.type, 'https://jwt-audit.dev/problems/approval-required');
    const id = r.body.approvalId as string;
    assert.equal(r.headers.get('audit-approval'), id);
    return id;
  };

  it('ticket: 403 with an approval id at once, the approvers alerted; `audit approve` on the broker; the retry passes once on the other instance', async () => {
    const id = await ticket('/api/admin/users/1');
    assert.equal(seenUpstream('/api/admin/users/1').length, 0, 'nothing reached the upstream');
    const alert = await waitFor('the approval.requested alert', () => s.alerts.find((x) => x.attributes['approval.id'] === id));
    assert.equal(alert.rule, 'approval.requested');
    assert.equal(alert.keys.subject, 'alice');
    assert.equal(alert.attributes['approval.path'], '/api/admin/users/1');
    const requested = await waitFor('approval.requested', () => events(id, 'approval.requested')[0]);
    assert.equal(requested.approval!.requester, 'alice');
    assert.equal(requested.approval!.reason, 'deleting admin objects needs a second person');
    assert.match(requested.approval!.fingerprint, /^[0-9a-f]{64}$/);

    // the other instance refuses it while pending, then releases it once approved
    await waitFor('B knows the approval', () => s.b.approvals.book.get(id, Date.now()));
    const early = await send(s.urlB, 'DELETE', '/api/admin/users/1', { headers: { 'audit-approval': id } });
    assert.deepEqual([early.status, early.body.reason], [403, 'approval_pending']);
    const decided = await decideApproval(s.kafka, { id, approver: 'bob', decision: 'granted', reason: 'change 42' });
    assert.deepEqual([decided.ok, decided.status, decided.requester], [true, 'granted', 'alice']);
    await waitFor('B sees the grant', () => s.b.approvals.book.get(id, Date.now())?.status === 'granted');
    const ok = await send(s.urlB, 'DELETE', '/api/admin/users/1', { headers: { 'audit-approval': id.toUpperCase() } });
    assert.equal(ok.status, 200);
    assert.equal(seenUpstream('/api/admin/users/1').length, 1);
    assert.equal(seenUpstream('/api/admin/users/1')[0]!.headers['audit-approval'], undefined, 'the ticket is not forwarded');

    // used twice: refused on this instance at once, and on the other once the use has travelled
    const again = await send(s.urlB, 'DELETE', '/api/admin/users/1', { headers: { 'audit-approval': id } });
    assert.deepEqual([again.status, again.body.reason], [403, 'approval_used']);
    await waitFor('A sees the use', () => s.a.approvals.book.get(id, Date.now())?.status === 'used');
    const onA = await send(s.urlA, 'DELETE', '/api/admin/users/1', { headers: { 'audit-approval': id } });
    assert.deepEqual([onA.status, onA.body.reason], [403, 'approval_used']);
    assert.equal(seenUpstream('/api/admin/users/1').length, 1);

    const granted = await waitFor('approval.granted', () => events(id, 'approval.granted')[0]);
    assert.deepEqual(
      [granted.actor.sub, granted.approval!.approvers, granted.approval!.requester, granted.approval!.reason],
      ['bob', ['bob'], 'alice', 'change 42'],
    );
    const used = await waitFor('approval.used', () => events(id, 'approval.used')[0]);
    assert.equal(used.approval!.fingerprint, requested.approval!.fingerprint);
    assert.equal(used.http?.request.path, '/api/admin/users/1');
  });

  it('one ticket presented to both instances at the same moment passes exactly once (30 generated rounds; the log arbitrates)', async () => {
    for (let round = 0; round < 30; round++) {
      const p = `/api/admin/race-${round}-${randomUUID().slice(0, 8)}`;
      const id = await ticket(p, undefined, round % 2 === 0 ? s.urlA : s.urlB);
      await waitFor('both know the approval', () => s.a.approvals.book.get(id, Date.now()) && s.b.approvals.book.get(id, Date.now()));
      assert.equal((await callback({ approvalId: id, decision: 'approve', approver: 'bob' })).status, 202);
      await waitFor(
        'both see the grant',
        () => s.a.approvals.book.get(id, Date.now())?.status === 'granted' && s.b.approvals.book.get(id, Date.now())?.status === 'granted',
      );
      // two or three presentations per instance, in a generated order, all in flight together
      const order = [s.urlA, s.urlB, ...Array.from({ length: round % 3 }, (_, k) => ((round + k) % 2 === 0 ? s.urlA : s.urlB))];
      const results = await Promise.all(order.map((base) => send(base, 'DELETE', p, { headers: { 'audit-approval': id } })));
      const passed = results.filter((r) => r.status === 200);
      assert.equal(
        passed.length,
        1,
        `round ${round}: exactly one presentation passes (${results.map((r) => `${r.status} ${String(r.body.reason ?? '')}`).join(', ')})`,
      );
      for (const r of results.filter((x) => x.status !== 200)) {
        assert.deepEqual([r.status, r.body.type, r.body.reason], [403, 'https://jwt-audit.dev/problems/approval-refused', 'approval_used'], `round ${round}`);
      }
      assert.equal(seenUpstream(p).length, 1, `round ${round}: the upstream saw the request once`);
      await waitFor('both fold the same winner', () => {
        const va = s.a.approvals.book.get(id, Date.now());
        const vb = s.b.approvals.book.get(id, Date.now());
        return va?.status === 'used' && vb?.status === 'used' && va.usedBy !== null && va.usedBy.nonce === vb.usedBy?.nonce;
      });
      const used = await waitFor('one approval.used', () => events(id, 'approval.used')[0]);
      assert.equal(used.http?.request.path, p);
      assert.equal(events(id, 'approval.used').length, 1);
    }
  });

  it('self-approval is refused by `audit approve`, by the callback, and ignored by the interceptors if written anyway', async () => {
    const id = await ticket('/api/admin/users/2');
    await waitFor('B knows the approval', () => s.b.approvals.book.get(id, Date.now()));
    const cli = await decideApproval(s.kafka, { id, approver: 'alice', decision: 'granted', reason: null });
    assert.deepEqual([cli.ok, cli.code], [false, 'self_approval']);
    const res = await callback({ approvalId: id, decision: 'approve', approver: 'alice' });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { reason: string }).reason, 'self_approval');
    const retry = await send(s.urlA, 'DELETE', '/api/admin/users/2', { headers: { 'audit-approval': id } });
    assert.deepEqual([retry.status, retry.body.reason], [403, 'approval_pending']);
    assert.equal(seenUpstream('/api/admin/users/2').length, 0);
  });

  it('a ticket presented with a different body, path or subject is refused and stays usable by its requester', async () => {
    const id = await ticket('/api/dual/transfer', { amount: 10 });
    for (const approver of ['bob', 'carol']) assert.equal((await decideApproval(s.kafka, { id, approver, decision: 'granted', reason: null })).ok, true);
    await waitFor('A sees the grant', () => s.a.approvals.book.get(id, Date.now())?.status === 'granted');
    const other = await send(s.urlA, 'POST', '/api/dual/transfer', { body: { amount: 10_000 }, headers: { 'audit-approval': id } });
    assert.deepEqual([other.status, other.body.reason], [403, 'request_mismatch']);
    const spaced = await send(s.urlA, 'POST', '/api/dual/transfer', { body: '{"amount": 10}', headers: { 'audit-approval': id } });
    assert.deepEqual([spaced.status, spaced.body.reason], [403, 'request_mismatch'], 'the same JSON in other bytes is another body');
    const path2 = await send(s.urlA, 'POST', '/api/dual/transfer2', { body: { amount: 10 }, headers: { 'audit-approval': id } });
    assert.equal(path2.status, 403);
    const mallory = await send(s.urlA, 'POST', '/api/dual/transfer', { sub: 'mallory', body: { amount: 10 }, headers: { 'audit-approval': id } });
    assert.deepEqual([mallory.status, mallory.body.reason], [403, 'wrong_subject']);
    assert.equal(mallory.body.approvalStatus, undefined, 'another subject learns nothing of the approval');
    assert.equal(seenUpstream('/api/dual/transfer').length, 0);
    const ok = await send(s.urlA, 'POST', '/api/dual/transfer', { body: { amount: 10 }, headers: { 'audit-approval': id } });
    assert.equal(ok.status, 200);
    assert.equal(seenUpstream('/api/dual/transfer')[0]!.bodyBytes, JSON.stringify({ amount: 10 }).length);
  });

  it('two approvers: the first leaves it pending, the same approver twice does not count, the second releases it', async () => {
    const id = await ticket('/api/dual/wire', { amount: 1 });
    assert.equal((await decideApproval(s.kafka, { id, approver: 'bob', decision: 'granted', reason: null })).status, 'pending');
    const twice = await decideApproval(s.kafka, { id, approver: 'bob', decision: 'granted', reason: null });
    assert.deepEqual([twice.ok, twice.code], [false, 'already_decided']);
    await waitFor('A sees bob', () => s.a.approvals.book.get(id, Date.now())?.approvers.length === 1);
    const early = await send(s.urlA, 'POST', '/api/dual/wire', { body: { amount: 1 }, headers: { 'audit-approval': id } });
    assert.deepEqual([early.status, early.body.reason], [403, 'approval_pending']);
    const res = await callback({ approvalId: id, decision: 'approve', approver: 'carol' });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { approvalId: id, status: 'granted', approvers: ['bob', 'carol'], approversRequired: 2 });
    await waitFor('A sees carol', () => s.a.approvals.book.get(id, Date.now())?.status === 'granted');
    assert.equal((await send(s.urlA, 'POST', '/api/dual/wire', { body: { amount: 1 }, headers: { 'audit-approval': id } })).status, 200);
  });

  it('hold: a large payment is held on one instance and released by a signed callback on the other; a small one passes untouched', async () => {
    const small = await send(s.urlA, 'POST', '/api/payments', { body: { amount: 5 } });
    assert.equal(small.status, 200);
    const before = seenUpstream('/api/payments').length;
    const held = send(s.urlA, 'POST', '/api/payments', { body: { amount: 5_000, to: 'acme' } });
    const view = await waitFor('the held request is pending', () => pendingOf(s, 'b', 'large-payment'));
    assert.equal(seenUpstream('/api/payments').length, before, 'held, not forwarded');
    const res = await callback({ approvalId: view.id, decision: 'approve', approver: 'bob' });
    assert.equal(res.status, 202);
    const r = await held;
    assert.equal(r.status, 200);
    assert.equal(seenUpstream('/api/payments').length, before + 1);
    assert.equal(seenUpstream('/api/payments').at(-1)!.bodyBytes, JSON.stringify({ amount: 5_000, to: 'acme' }).length);
    const granted = await waitFor('approval.granted via callback', () => events(view.id, 'approval.granted')[0]);
    assert.equal(granted.attributes['approval.via'], 'callback');
    await waitFor('approval.used', () => events(view.id, 'approval.used')[0]);
  });

  it('hold: denied is 403 with the reason (`audit deny`), no decision in time is 408, both audited', async () => {
    const held = send(s.urlA, 'POST', '/api/payments', { body: { amount: 9_999 } });
    const view = await waitFor('pending', () => pendingOf(s, 'a', 'large-payment'));
    // the real command line, in its own process
    const { code, stdout } = await cli([
      'deny',
      view.id,
      '--approver',
      'bob',
      '--reason',
      'outside the change window',
      '--brokers',
      s.broker.address,
      '--json',
    ]);
    assert.equal(code, 0);
    assert.equal(JSON.parse(stdout).status, 'denied');
    const r = await held;
    assert.equal(r.status, 403);
    assert.equal(r.body.type, 'https://jwt-audit.dev/problems/approval-denied');
    assert.match(String(r.body.detail), /outside the change window/);
    const denied = await waitFor('approval.denied', () => events(view.id, 'approval.denied')[0]);
    assert.deepEqual([denied.actor.sub, denied.approval!.reason, denied.outcome], ['bob', 'outside the change window', 'failure']);

    const slow = await send(s.urlB, 'POST', '/api/slow', { body: { x: 1 } });
    assert.equal(slow.status, 408);
    assert.equal(slow.body.type, 'https://jwt-audit.dev/problems/approval-timeout');
    const expired = await waitFor('approval.expired', () => events(slow.body.approvalId as string, 'approval.expired')[0]);
    assert.equal(expired.approval!.requester, 'alice');
    assert.equal(seenUpstream('/api/slow').length, 0);
    // deciding it now is refused: it is no longer pending
    const late = await decideApproval(s.kafka, { id: slow.body.approvalId as string, approver: 'bob', decision: 'granted', reason: null });
    assert.deepEqual([late.ok, late.code], [false, 'not_pending']);
  });

  it('`audit approve|deny`: exit 1 for an unknown id, 2 for usage (bad id, no approver, deny without reason)', async () => {
    const run = async (argv: string[]) => {
      const errs: string[] = [];
      return { ...(await runAudit(argv, { err: (t) => errs.push(t) })), errs };
    };
    const brokers = ['--brokers', s.broker.address];
    assert.equal((await run(['approve', randomUUID(), '--approver', 'bob', ...brokers])).code, 1);
    assert.equal((await run(['approve', 'not-an-id', '--approver', 'bob', ...brokers])).code, 2);
    const noApprover = await run(['approve', randomUUID(), ...brokers]);
    assert.equal(noApprover.code, 2);
    assert.match(noApprover.errs.join(''), /--approver/);
    assert.equal((await run(['deny', randomUUID(), '--approver', 'bob', ...brokers])).code, 2);
    const help = await cli(['approve', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--approver <name>/);
  });
});
