import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ApprovalRecord } from '@jwt-audit/events';
import { ApprovalBook, approvalKey, checkDecision, useClaimKey } from './approval-state.js';
import {
  approvalRuleFor,
  bodyConditionHolds,
  candidateRules,
  parseApprovalHeader,
  requestFingerprint,
  sha256Hex,
  type ApprovalRuleConfig,
} from './approvals.js';
import { RouteConfigError } from './errors.js';
import { createRouter, DEFAULT_METHODS, type RouteConfig } from './routes.js';
import { prng } from '@jwt-audit/runtime/testing/prng';

const options = {
  upstreams: { api: 'http://127.0.0.1:1' },
  mode: 'enforce' as const,
  onSpoolFull: 'fail-open' as const,
  methods: DEFAULT_METHODS,
  ambiguousPaths: 'reject' as const,
  requireUpstream: true,
};
const router = (routes: RouteConfig[]) =>
  createRouter(
    routes.map((r) => ({ upstream: 'api', ...r })),
    options,
  );

const rulesOf = (approvals: ApprovalRuleConfig[], route: Partial<RouteConfig> = {}) =>
  router([{ name: 'api', path: '/api/*', approvals, ...route }]).routes[0]!.approvals;

describe('approval rules', () => {
  it('match on method, a path pattern inside the route (on the canonical path, as the route matches) and claims', () => {
    const rules = rulesOf([{ name: 'admin-delete', mode: 'ticket', methods: ['DELETE'], path: '/api/admin/*', claims: { tenant: ['acme', 'globex'] } }]);
    const claims = { sub: 'alice', tenant: 'acme' };
    assert.equal(candidateRules(rules, 'DELETE', '/api/admin/users/1', claims)[0]?.name, 'admin-delete');
    assert.equal(candidateRules(rules, 'DELETE', '/API/Admin/Users/1/', claims).length, 1, 'case and a trailing slash as the route matches');
    assert.equal(candidateRules(rules, 'DELETE', '/api/admin', claims).length, 1, 'the prefix itself');
    assert.equal(candidateRules(rules, 'GET', '/api/admin/users/1', claims).length, 0);
    assert.equal(candidateRules(rules, 'DELETE', '/api/orders/1', claims).length, 0);
    assert.equal(candidateRules(rules, 'DELETE', '/api/admin/users/1', { sub: 'alice', tenant: 'initech' }).length, 0);
    assert.equal(candidateRules(rules, 'DELETE', '/api/admin/users/1', { sub: 'alice' }).length, 0, 'an absent claim does not hold');
  });

  it('claims: array claims contain one of the values, scope is space-separated, objects never match, inherited keys are not claims', () => {
    const rules = rulesOf([{ mode: 'hold', claims: { roles: 'admin', scope: 'payments:write' } }]);
    assert.equal(candidateRules(rules, 'POST', '/api/x', { roles: ['user', 'admin'], scope: 'orders:read payments:write' }).length, 1);
    assert.equal(candidateRules(rules, 'POST', '/api/x', { roles: 'admin', scope: 'payments:write' }).length, 1);
    assert.equal(candidateRules(rules, 'POST', '/api/x', { roles: [{ admin: true }], scope: 'payments:write' }).length, 0);
    assert.equal(candidateRules(rules, 'POST', '/api/x', { roles: ['administrator'], scope: 'payments:writer' }).length, 0);
    assert.equal(candidateRules(rulesOf([{ mode: 'hold', claims: { toString: 'x' } }]), 'POST', '/api/x', {}).length, 0);
  });

  it('a rule table that cannot mean what it says fails at start, naming each problem', () => {
    assert.throws(
      () =>
        router([
          { path: '/open/*', auth: 'none', approvals: [{ mode: 'ticket' }] },
          {
            path: '/api/*',
            methods: ['GET', 'POST'],
            approvals: [
              { mode: 'hold', methods: ['DELETE'], validSec: 5 },
              { mode: 'ticket', holdSec: 3, body: { field: 'a..b', above: 1 } },
              { mode: 'ticket', body: { field: '__proto__.x', above: 1 } },
            ],
          },
        ]),
      (err: unknown) => {
        assert.ok(err instanceof RouteConfigError);
        const p = err.problems.join('\n');
        for (const want of [
          'routes.0.approvals: a route without authentication',
          'routes.1.approvals.0.methods: DELETE',
          'routes.1.approvals.0: decideSec and validSec',
          'routes.1.approvals.1.holdSec',
          'routes.1.approvals.1.body.field',
          'routes.1.approvals.2.body.field',
        ])
          assert.ok(p.includes(want), `${want} in\n${p}`);
        return true;
      },
    );
  });
});

describe('approval body condition', () => {
  const [rule] = rulesOf([{ mode: 'hold', body: { field: 'payment.amount', above: 1000 } }]);
  const holds = (body: unknown) => bodyConditionHolds(rule!, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

  it('compares numbers and numeric strings, both sides of the threshold', () => {
    const rnd = prng(20);
    for (let i = 0; i < 500; i++) {
      const amount = Math.round((rnd() * 4000 - 1000) * 100) / 100;
      const want = amount > 1000;
      assert.equal(holds({ payment: { amount } }), want, `amount ${amount}`);
      assert.equal(holds({ payment: { amount: String(amount) } }), want, `amount "${amount}"`);
      assert.equal(holds({ payment: { amount: `${amount.toExponential()}` } }), want, `amount ${amount.toExponential()}`);
    }
    assert.equal(holds({ payment: { amount: 1000 } }), false);
    assert.equal(holds({ payment: { amount: 1000.0001 } }), true);
  });

  it('fails closed on what the edge cannot read as an upstream might; an absent or null field needs none', () => {
    for (const body of ['', 'not json', '{"payment":', '[1,2]', '"x"']) assert.equal(holds(body), true, `body ${JSON.stringify(body)}`);
    for (const amount of [{ v: 5000 }, [5000], true, 'lots', '0x1F40', 'Infinity1', ''])
      assert.equal(holds({ payment: { amount } }), true, `amount ${JSON.stringify(amount)}`);
    assert.equal(holds({ payment: 'x' }), true, 'a non-object on the way');
    assert.equal(holds({ payment: { other: 5000 } }), false);
    assert.equal(holds({ payment: { amount: null } }), false);
    assert.equal(holds({}), false);
    assert.equal(holds(JSON.stringify({ payment: {} }).replace('{}', '{"__proto__":{"amount":5000}}')), false, 'an own __proto__ key is not payment.amount');
  });

  it('picks the first rule whose body condition holds', () => {
    const rules = rulesOf([
      { name: 'big', mode: 'hold', body: { field: 'amount', above: 1000 } },
      { name: 'delete', mode: 'ticket', methods: ['DELETE'] },
    ]);
    const c = candidateRules(rules, 'DELETE', '/api/x', {});
    assert.equal(approvalRuleFor(c, Buffer.from('{"amount":5}'))?.name, 'delete');
    assert.equal(approvalRuleFor(c, Buffer.from('{"amount":5000}'))?.name, 'big');
    assert.equal(approvalRuleFor(candidateRules(rules, 'POST', '/api/x', {}), Buffer.from('{"amount":5}')), null);
  });
});

describe('request fingerprint', () => {
  it('differs when any part differs, and no field can run into the next', () => {
    const base = { method: 'DELETE', path: '/api/admin/users/1', query: null as string | null, bodySha256: sha256Hex(''), subject: 'alice' };
    const fp = requestFingerprint(base);
    assert.match(fp, /^[0-9a-f]{64}$/);
    assert.equal(requestFingerprint({ ...base }), fp);
    const variants = [
      { ...base, method: 'POST' },
      { ...base, path: '/api/admin/users/12' },
      { ...base, query: '' },
      { ...base, query: 'force=1' },
      { ...base, bodySha256: sha256Hex('x') },
      { ...base, subject: 'alice2' },
      { ...base, path: '/api/admin/users/1"', subject: 'alice' },
      { ...base, path: '/api/admin/users', subject: '1alice' },
    ];
    const seen = new Set([fp]);
    for (const v of variants) {
      const f = requestFingerprint(v);
      assert.ok(!seen.has(f), JSON.stringify(v));
      seen.add(f);
    }
    assert.equal(requestFingerprint({ ...base, method: 'HEAD' }), requestFingerprint({ ...base, method: 'GET' }), 'HEAD is judged as GET');
  });
});

describe('Audit-Approval header', () => {
  const id = randomUUID();
  it('accepts exactly one approval id, any case, blanks around', () => {
    assert.deepEqual(parseApprovalHeader(undefined), { kind: 'none' });
    for (const v of [id, id.toUpperCase(), ` ${id}\t`, [id]]) assert.deepEqual(parseApprovalHeader(v), { kind: 'id', id });
  });

  it('refuses generated hostile variants as malformed (never as "no ticket")', () => {
    const rnd = prng(7);
    const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)]!;
    const mutations: Array<(s: string) => string> = [
      (s) => s.slice(0, Math.floor(rnd() * s.length)),
      (s) => s + pick(['0', '-', ' x', ',', `, ${s}`, '\u0000', '%00', '\u00e9', '\u{1F600}']),
      (s) => s.replace(/-/g, ''),
      (s) => s.replace(/[0-9a-f]/, pick(['g', 'G', '_', '.', '\u0430'])),
      (s) => `{${s}}`,
      (s) => `urn:uuid:${s}`,
      (s) => s.repeat(2 + Math.floor(rnd() * 100)),
      (s) => `${s};${s}`,
      () => '',
      () => ' ',
      () => 'null',
      () => '../../etc/passwd',
      () => 'x'.repeat(1 + Math.floor(rnd() * 10_000)),
    ];
    let n = 0;
    for (let i = 0; i < 2_000; i++) {
      const v = pick(mutations)(id);
      const parsed = parseApprovalHeader(v);
      if (parsed.kind === 'id') {
        // only a mutation that left a UUID behind may parse, and then it is exactly that UUID
        assert.match(v.trim().toLowerCase(), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        continue;
      }
      assert.equal(parsed.kind, 'malformed', JSON.stringify(v));
      n++;
    }
    assert.ok(n > 1_500);
    assert.equal(parseApprovalHeader([id, id]).kind, 'malformed');
    assert.equal(parseApprovalHeader([]).kind, 'malformed');
  });
});

describe('approval state fold', () => {
  const T = 1_800_000_000_000;
  const id = '0193a005-7c2e-7a31-8f00-3aa000000001';
  const requested = (o: { approvers?: number; mode?: 'hold' | 'ticket' } = {}): ApprovalRecord => ({
    approvalId: id,
    schemaVersion: 1,
    step: 'requested',
    at: T,
    by: 'alice',
    reason: null,
    request: {
      fingerprint: 'a'.repeat(64),
      requester: 'alice',
      clientId: null,
      rule: 'r',
      route: 'api',
      method: 'DELETE',
      path: '/api/x',
      mode: o.mode ?? 'ticket',
      approversRequired: o.approvers ?? 1,
      decideBy: T + 60_000,
      validSec: 300,
      instance: 'i1',
    },
  });
  const decision = (by: string, step: 'granted' | 'denied', at: number, reason: string | null = null): ApprovalRecord => ({
    approvalId: id,
    schemaVersion: 1,
    step,
    at,
    by,
    reason,
    request: null,
  });
  const book = (records: ApprovalRecord[]) => {
    const b = new ApprovalBook();
    for (const r of records) b.apply(approvalKey(r), r);
    return b;
  };

  it("grants, denies, expires; the requester's own decision and late ones do not count", () => {
    assert.equal(book([requested()]).get(id, T + 1)?.status, 'pending');
    assert.equal(book([requested()]).get(id, T + 60_001)?.status, 'expired');
    const g = book([requested(), decision('bob', 'granted', T + 10)]).get(id, T + 20)!;
    assert.deepEqual([g.status, g.approvers, g.validUntil], ['granted', ['bob'], T + 10 + 300_000]);
    assert.equal(book([requested(), decision('bob', 'granted', T + 10)]).get(id, T + 10 + 300_001)?.status, 'expired', 'a ticket not used in time');
    const d = book([requested(), decision('bob', 'denied', T + 10, 'no')]).get(id, T + 20)!;
    assert.deepEqual([d.status, d.deniedBy, d.reason], ['denied', 'bob', 'no']);
    const self = book([requested(), decision('alice', 'granted', T + 10)]).get(id, T + 20)!;
    assert.deepEqual([self.status, self.ignored], ['pending', [{ by: 'alice', step: 'granted', why: 'self_approval' }]]);
    assert.equal(book([requested(), decision('bob', 'granted', T + 60_001)]).get(id, T + 30)?.status, 'pending', 'a decision after decideBy never counts');
  });

  it('two approvers: two distinct non-requesters, the first denial settles it; order of arrival does not matter', () => {
    const recs = [
      requested({ approvers: 2 }),
      decision('bob', 'granted', T + 10),
      decision('alice', 'granted', T + 11),
      decision('carol', 'granted', T + 12),
      decision('dave', 'denied', T + 13),
    ];
    const rnd = prng(3);
    for (let i = 0; i < 50; i++) {
      const shuffled = [...recs].sort(() => rnd() - 0.5);
      const v = book(shuffled).get(id, T + 20)!;
      assert.deepEqual([v.status, v.approvers], ['granted', ['bob', 'carol']]);
    }
    assert.equal(book([requested({ approvers: 2 }), decision('bob', 'granted', T + 10), decision('dave', 'denied', T + 11)]).get(id, T + 20)?.status, 'denied');
    assert.equal(book([requested({ approvers: 2 }), decision('bob', 'granted', T + 10)]).get(id, T + 20)?.status, 'pending');
  });

  it('use claims: the first counting claim in log order wins, whatever the clocks; every reader of the same log names the same winner (generated)', () => {
    const claim = (instance: string, at: number): ApprovalRecord => ({
      approvalId: id,
      schemaVersion: 1,
      step: 'used',
      at,
      by: instance,
      reason: null,
      request: null,
    });
    const validUntil = T + 10 + 300_000;
    const rnd = prng(11);
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(rnd() * 5);
      // claims from several instances with skewed clocks, some after validUntil (they do not count)
      const claims = Array.from({ length: n }, (_, k) => ({ nonce: randomUUID(), rec: claim(`i${k % 3}`, T + 20 + Math.floor((rnd() - 0.2) * 400_000)) }));
      const log: Array<[string, ApprovalRecord]> = [
        [approvalKey(requested()), requested()],
        [approvalKey(decision('bob', 'granted', T + 10)), decision('bob', 'granted', T + 10)],
      ];
      for (const c of claims) log.push([useClaimKey(id, c.nonce), c.rec]);
      // a producer retry may append a claim again: it keeps its first place
      if (n > 1 && rnd() < 0.5) log.push([useClaimKey(id, claims[0]!.nonce), claims[0]!.rec]);
      const expected = claims.find((c) => c.rec.at <= validUntil);
      const readers = [new ApprovalBook(), new ApprovalBook()];
      for (const b of readers) for (const [k, v] of log) b.apply(k, v);
      for (const b of readers) {
        const v = b.get(id, T + 20)!;
        if (expected)
          assert.deepEqual([v.status, v.usedBy], ['used', { instance: expected.rec.by, nonce: expected.nonce, at: expected.rec.at }], `round ${round}`);
        else assert.deepEqual([v.status, v.usedBy], ['granted', null], `round ${round}: no claim within validUntil`);
      }
    }
  });

  it('use claims count only on a granted ticket; a claim key that is not a UUID nonce, or a non-used step under it, is not a claim', () => {
    const c: ApprovalRecord = { approvalId: id, schemaVersion: 1, step: 'used', at: T + 20, by: 'i1', reason: null, request: null };
    const nonce = randomUUID();
    const pending = book([requested()]);
    pending.apply(useClaimKey(id, nonce), c);
    assert.deepEqual([pending.get(id, T + 30)?.status, pending.get(id, T + 30)?.usedBy], ['pending', null], 'a claim does not grant');
    const hold = book([requested({ mode: 'hold' }), decision('bob', 'granted', T + 10)]);
    hold.apply(useClaimKey(id, nonce), c);
    assert.equal(hold.get(id, T + 30)?.status, 'granted', 'a held request is ended by its end record, not a claim');
    const g = () => book([requested(), decision('bob', 'granted', T + 10)]);
    for (const key of [
      `use:${id}:`,
      `use:${id}:x`,
      `use:${id}:${nonce}:extra`,
      `use:${id}:${nonce.toUpperCase()}`,
      `use:${id}`,
      `use:${randomUUID()}:${nonce}`,
    ]) {
      const b = g();
      b.apply(key, c);
      assert.equal(b.get(id, T + 30)?.status, 'granted', key);
    }
    for (const step of ['requested', 'granted', 'denied', 'expired'] as const) {
      const b = g();
      b.apply(useClaimKey(id, nonce), { ...c, step });
      assert.equal(b.get(id, T + 30)?.status, 'granted', step);
    }
    const t = g();
    t.apply(useClaimKey(id, nonce), c);
    assert.equal(t.get(id, T + 30)?.status, 'used');
    t.apply(useClaimKey(id, nonce), null);
    assert.equal(t.get(id, T + 30)?.status, 'granted', 'a tombstone forgets the claim');
  });

  it('an end record is final; checkDecision names why a decision would not count', () => {
    const used: ApprovalRecord = { approvalId: id, schemaVersion: 1, step: 'used', at: T + 30, by: 'alice', reason: null, request: null };
    const b = book([requested(), decision('bob', 'granted', T + 10), used]);
    assert.equal(b.get(id, T + 40)?.status, 'used');
    assert.equal(checkDecision(b, id, 'carol', T + 40).ok, false);
    const p = book([requested({ approvers: 2 }), decision('bob', 'granted', T + 10)]);
    assert.deepEqual(
      [checkDecision(p, id, 'alice', T + 20)].map((c) => (c.ok ? 'ok' : c.code)),
      ['self_approval'],
    );
    assert.deepEqual(
      [checkDecision(p, id, 'bob', T + 20)].map((c) => (c.ok ? 'ok' : c.code)),
      ['already_decided'],
    );
    assert.equal(checkDecision(p, id, 'carol', T + 20).ok, true);
    assert.deepEqual(
      [checkDecision(p, randomUUID(), 'carol', T + 20)].map((c) => (c.ok ? 'ok' : c.code)),
      ['unknown_approval'],
    );
    p.sweep(T + 10 * 86_400_000, 3_600_000);
    assert.equal(p.size(), 0, 'settled approvals are forgotten after the horizon');
  });

  it('another spelling of a name is the same person: the requester respelled is refused and ignored, one approver respelled counts once (generated)', () => {
    const r01 = prng(37);
    const pick = <T>(xs: T[]) => xs[Math.floor(r01() * xs.length)]!;
    // what a signer (chat tool, CLI flag) may pass along and no reader of the Approvals page or an event can tell apart
    const respell: Array<(n: string) => string> = [
      (n) => ` ${n}`,
      (n) => `${n} `,
      (n) => `${n}\t`,
      (n) => `\u00a0${n}`,
      (n) => n.toUpperCase(),
      (n) => n[0]!.toUpperCase() + n.slice(1),
      (n) => `${n.slice(0, 1)}\u200b${n.slice(1)}`,
      (n) => `${n}\u200d`,
      (n) => `\ufeff${n}`,
      (n) => `${n}\u00ad`,
      (n) => n.replace('a', '\uff41'),
      (n) => n.normalize('NFD'),
    ];
    const names = ['alice', 'amélie', 'bob.a'];
    for (let round = 0; round < 200; round++) {
      const requester = pick(names);
      const other = pick(names.filter((n) => n !== requester));
      let self = requester;
      for (let k = 1 + Math.floor(r01() * 3); k > 0; k--) self = pick(respell)(self);
      if (self === requester) self = ` ${self}`;
      let twice = other;
      for (let k = 1 + Math.floor(r01() * 3); k > 0; k--) twice = pick(respell)(twice);
      if (twice === other) twice = `${twice} `;
      const req = requested({ approvers: 2 });
      req.request = { ...req.request!, requester };
      const b = book([req, decision(other, 'granted', T + 10)]);
      const c = checkDecision(b, id, self, T + 20);
      assert.equal(c.ok ? 'ok' : c.code, 'self_approval', `${JSON.stringify(self)} deciding ${JSON.stringify(requester)}'s request`);
      const again = checkDecision(b, id, twice, T + 20);
      assert.equal(again.ok ? 'ok' : again.code, 'already_decided', `${JSON.stringify(twice)} after ${JSON.stringify(other)}`);
      // written anyway (anyone with the topic's ACL): the fold does not count them either
      const written = book([req, decision(other, 'granted', T + 10), decision(self, 'granted', T + 11), decision(twice, 'granted', T + 12)]).get(id, T + 20)!;
      assert.deepEqual([written.status, written.approvers], ['pending', [other]], `${JSON.stringify(self)}, ${JSON.stringify(twice)}`);
      assert.equal(checkDecision(b, id, pick(names.filter((n) => n !== requester && n !== other)) ?? 'carol', T + 20).ok, true, 'a third person still may');
    }
  });

  it('sweep names every key a forgotten approval had, so its tombstones leave the compacted topic holding only live approvals (generated logs)', () => {
    const r01 = prng(11);
    const rnd = (n: number) => Math.floor(r01() * n);
    for (let round = 0; round < 100; round++) {
      // a log of several approvals, each with a request (or not), decisions, an end, use claims, at various ages
      const log = new Map<string, ApprovalRecord>();
      const ids = Array.from({ length: 1 + rnd(6) }, () => randomUUID());
      const ages = new Map<string, number>();
      for (const aid of ids) {
        const at = T - rnd(3) * 86_400_000; // today, yesterday, two days ago
        ages.set(aid, at);
        const req: ApprovalRecord = { ...requested({ approvers: 1 + rnd(2) }), approvalId: aid, at };
        req.request = { ...req.request!, decideBy: at + 60_000 };
        if (rnd(5) > 0) log.set(approvalKey(req), req);
        for (let d = rnd(4); d > 0; d--) {
          const r: ApprovalRecord = {
            approvalId: aid,
            schemaVersion: 1,
            step: rnd(4) === 0 ? 'denied' : 'granted',
            at: at + 10 * d,
            by: `u${rnd(5)}`,
            reason: 'r',
            request: null,
          };
          log.set(approvalKey(r), r);
        }
        if (rnd(3) === 0) log.set(`end:${aid}`, { approvalId: aid, schemaVersion: 1, step: 'expired', at: at + 70_000, by: 'i1', reason: 'x', request: null });
        for (let c = rnd(3); c > 0; c--)
          log.set(useClaimKey(aid, randomUUID()), { approvalId: aid, schemaVersion: 1, step: 'used', at: at + 20, by: 'i2', reason: null, request: null });
      }
      const b = new ApprovalBook();
      for (const [k, v] of log) b.apply(k, v);
      const now = T + 1_000_000;
      const forgotten = b.sweep(now, 3_600_000);
      const expected = [...log.keys()].filter((k) => (ages.get(k.split(':')[1]!) ?? T) < T - 1);
      assert.deepEqual([...forgotten].sort(), expected.sort(), `round ${round}: the keys of approvals older than a day, all of them`);
      // compaction after the tombstones: a reader starting from the topic sees only the live approvals, as the sweeping book does
      const compacted = new Map(log);
      for (const k of forgotten) compacted.delete(k);
      const reader = new ApprovalBook();
      for (const [k, v] of compacted) reader.apply(k, v);
      assert.deepEqual(reader.ids().sort(), b.ids().sort(), `round ${round}`);
      for (const aid of b.ids()) assert.deepEqual(reader.get(aid, now), b.get(aid, now));
    }
  });
});
