import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { signCallbackBody } from './index.js';
import { prng, waitFor } from './testdata/harness.js';
import { CALLBACK, CALLBACK_SECRET as SECRET, startApprovalStack } from './testdata/approval-stack.js';

type Stack = Awaited<ReturnType<typeof startApprovalStack>>;

/** The first instance's pending approval of a rule (a held request has no id the client sees before it ends). */

describe('just-in-time approval: hostile input, on the embedded broker', () => {
  let s: Stack;
  before(async () => {
    s = await startApprovalStack();
  });
  after(async () => {
    await s?.stop();
  });
  const token = (sub: string) => s.auth.sign({ sub });
  const send: Stack['send'] = (...args) => s.send(...args);
  const callback: Stack['callback'] = (...args) => s.callback(...args);
  const seenUpstream = (p: string) => s.seenUpstream(p);
  const ticket = async (p: string) => {
    const r = await send(s.urlA, 'DELETE', p);
    assert.equal(r.status, 403);
    return r.body.approvalId as string;
  };

  it('generated hostile Audit-Approval headers: malformed is 400, an unknown id 403; nothing reaches the upstream, nothing crashes', async () => {
    const rnd = prng(20);
    const id = await ticket('/api/admin/users/3');
    const bearer = `Bearer ${await token('alice')}`;
    const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const variants: Array<string | string[]> = [];
    for (let i = 0; i < 150; i++) {
      variants.push(
        pick<() => string | string[]>([
          () => randomUUID(),
          () => id.slice(0, Math.floor(rnd() * 36)),
          () => `${id}${pick(['0', ' x', ',', '%00', 'é'])}`,
          () => id.replace(/-/g, ''),
          () => [id, id],
          () => [id, randomUUID()],
          () => `${id}, ${id}`,
          () => 'x'.repeat(1 + Math.floor(rnd() * 4_000)),
          () => '',
          () => `urn:uuid:${id}`,
          () => `{${id}}`,
        ])(),
      );
    }
    const before = seenUpstream('/api/admin/users/3').length;
    for (const v of variants) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${s.urlA}/api/admin/users/3`, { method: 'DELETE', headers: { authorization: bearer, 'audit-approval': v } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end();
      });
      const single = typeof v === 'string' ? v : null;
      const isUuid = single !== null && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(single.trim());
      // an id (this pending one or an unknown one) is 403; anything else, an empty value included, 400
      assert.equal(status, isUuid ? 403 : 400, JSON.stringify(v).slice(0, 80));
    }
    assert.equal(seenUpstream('/api/admin/users/3').length, before);
  });

  it('generated hostile callbacks: bad signatures, stale timestamps, replays, unknown ids, bad bodies, oversized; only the genuine one counts', async () => {
    const rnd = prng(9);
    const id = await ticket('/api/admin/users/4');
    await waitFor('B knows the approval', () => s.b.approvals.book.get(id, Date.now()));
    const good = JSON.stringify({ approvalId: id, decision: 'deny', approver: 'bob', reason: 'no' });
    const status = async (p: Promise<Response>) => {
      const r = await p;
      const body = (await r.json()) as { type?: string };
      if (r.status >= 400) assert.match(String(body.type), /^https:\/\/jwt-audit\.dev\/problems\//, 'a problem document');
      return r.status;
    };
    const t = Date.now();
    const hex = () => Array.from({ length: 64 }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');
    for (let i = 0; i < 40; i++) {
      assert.equal(await status(callback(good, { sig: `t=${t},v1=${hex()}` })), 401, 'random MAC');
      assert.equal(await status(callback(good, { secret: `${SECRET}x${i}` })), 401, 'wrong key');
      // beyond the 5 min window either way (a margin for the time the loop itself takes)
      const skew = 300_000 + 60_000 + Math.floor(rnd() * 10 ** (1 + Math.floor(rnd() * 9)));
      const now = Date.now();
      assert.equal(await status(callback(good, { t: rnd() < 0.5 ? now - skew : now + skew })), 401, 'stale or future timestamp');
      const sig = signCallbackBody(SECRET, good, t);
      const tampered = good.replace('"no"', `"no${i}"`);
      assert.equal(await status(callback(tampered, { sig })), 401, 'tampered body');
      assert.equal(
        await status(
          callback(good, {
            sig: pick(rnd, [
              '',
              't=',
              `v1=${hex()}`,
              `t=${t}`,
              `t=${t},v1=${hex()},t=${t}`,
              `t=abc,v1=${hex()}`,
              `t=${t},v1=${hex().toUpperCase()}`,
              'x'.repeat(300),
            ]),
          }),
        ),
        401,
        'malformed header',
      );
      const unknown = JSON.stringify({ approvalId: randomUUID(), decision: 'approve', approver: `u${i}` });
      assert.equal(await status(callback(unknown)), 404, 'unknown id');
      const bad = pick(rnd, [
        '[]',
        'null',
        '{',
        JSON.stringify({ approvalId: id }),
        JSON.stringify({ approvalId: id, decision: 'yes', approver: 'bob' }),
        JSON.stringify({ approvalId: id, decision: 'deny', approver: 'bob' }),
        JSON.stringify({ approvalId: id, decision: 'approve', approver: '' }),
        JSON.stringify({ approvalId: id, decision: 'approve', approver: 'b\u0000b' }),
        JSON.stringify({ approvalId: id, decision: 'approve', approver: 'bob', extra: 1 }),
        JSON.stringify({ approvalId: id.toUpperCase(), decision: 'approve', approver: 'bob' }),
      ]);
      assert.equal(await status(callback(`${bad}`)), 400, `bad body ${bad}`);
    }
    assert.equal(await status(callback(JSON.stringify({ approvalId: id, decision: 'deny', approver: 'bob', reason: 'x'.repeat(5_000) }))), 413);
    assert.equal(await status(callback(good, { contentType: 'text/plain' })), 415);
    assert.equal(await status(fetch(`${s.urlB}${CALLBACK}`)), 405);
    assert.equal(s.b.approvals.book.get(id, Date.now())?.status, 'pending', 'nothing but the genuine callback decides');
    const sig = signCallbackBody(SECRET, good);
    assert.equal(await status(callback(good, { sig })), 202);
    assert.equal(await status(callback(good, { sig })), 409, 'the same signed decision again: replayed');
    const fresh = await status(callback(good));
    assert.equal(fresh, 409, 'a new signature for a settled approval: not pending');
    await waitFor('A sees the denial', () => s.a.approvals.book.get(id, Date.now())?.status === 'denied');
    const r = await send(s.urlA, 'DELETE', '/api/admin/users/4', { headers: { 'audit-approval': id } });
    assert.deepEqual([r.status, r.body.reason], [403, 'approval_denied']);
  });

  it("generated respellings of the requester's name through the callback (blanks, zero-width, case, NFD, full-width): 403 self_approval, nothing decided", async () => {
    const rnd = prng(41);
    const id = await ticket('/api/admin/users/5');
    await waitFor('B knows the approval', () => s.b.approvals.book.get(id, Date.now()));
    const respell = [
      (n: string) => ` ${n}`,
      (n: string) => `${n}\u00a0`,
      (n: string) => n.toUpperCase(),
      (n: string) => `A${n.slice(1)}`,
      (n: string) => `${n.slice(0, 2)}\u200b${n.slice(2)}`,
      (n: string) => `\ufeff${n}`,
      (n: string) => `${n}\u00ad`,
      (n: string) => n.replace('a', '\uff41'),
    ];
    for (let i = 0; i < 30; i++) {
      let approver = 'alice';
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) approver = pick(rnd, respell)(approver);
      if (approver === 'alice') approver = ` ${approver}`;
      const res = await callback({ approvalId: id, decision: 'approve', approver });
      const body = (await res.json()) as { reason?: string };
      assert.deepEqual([res.status, body.reason], [403, 'self_approval'], JSON.stringify(approver));
    }
    assert.equal(s.b.approvals.book.get(id, Date.now())?.status, 'pending');
    const r = await send(s.urlA, 'DELETE', '/api/admin/users/5', { headers: { 'audit-approval': id } });
    assert.deepEqual([r.status, r.body.reason], [403, 'approval_pending']);
    assert.equal(seenUpstream('/api/admin/users/5').length, 0);
  });
});

function pick<T>(rnd: () => number, xs: T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}
