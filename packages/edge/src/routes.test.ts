import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RouteConfigError } from './errors.js';
import { compilePattern, createRouter, DEFAULT_METHODS, type RouteConfig, type RouterOptions } from './routes.js';
import { prng } from '@jwt-audit/runtime/testing/prng';

const options: RouterOptions = {
  upstreams: { api: 'http://127.0.0.1:1' },
  mode: 'enforce',
  onSpoolFull: 'fail-open',
  methods: DEFAULT_METHODS,
  ambiguousPaths: 'reject',
  requireUpstream: true,
};
const router = (routes: RouteConfig[], o: Partial<RouterOptions> = {}) =>
  createRouter(
    routes.map((r) => ({ upstream: 'api', ...r })),
    { ...options, ...o },
  );

/** The routes most tests judge against (router() adds the upstream). */
const ROUTES: RouteConfig[] = [
  { name: 'token', path: '/oauth/token', methods: ['POST'], auth: 'none' },
  { name: 'admin', path: '/api/admin/*', scopes: ['admin'] },
  { name: 'orders', path: '/api/orders', scopes: { GET: ['orders:read'], POST: ['orders:write'] } },
  { name: 'order', path: '/api/orders/:id', scopes: { GET: ['orders:read'], '*': ['orders:write'] } },
  { name: 'exact', path: '/Exact/Case', caseSensitive: true },
  { name: 'strict', path: '/strict/', strictTrailingSlash: true },
  { name: 'api', path: '/api/*' },
];
const table = router(ROUTES);
const judged = (method: string, target: string) => {
  const r = table.resolve(method, target);
  return r.refusal ? `${r.refusal.status} ${r.refusal.reason}` : `${r.route!.name} [${r.scopes.join(' ')}] ${r.path}`;
};

describe('router', () => {
  it('matches the canonical path case- and trailing-slash-insensitively, and a prefix route covers the prefix itself', () => {
    assert.equal(judged('GET', '/api/admin/users'), 'admin [admin] /api/admin/users');
    assert.equal(judged('GET', '/API/Admin/Users/'), 'admin [admin] /API/Admin/Users/');
    assert.equal(judged('GET', '/api/admin'), 'admin [admin] /api/admin');
    assert.equal(judged('GET', '/api/%61dmin/users'), 'admin [admin] /api/admin/users');
    assert.equal(judged('GET', '/api/orders/../admin/users'), 'admin [admin] /api/admin/users');
    assert.equal(judged('GET', '//api//admin'), 'admin [admin] /api/admin');
    assert.equal(judged('GET', '/api/adminx'), 'api [] /api/adminx');
    assert.equal(judged('GET', '/api/orders/'), 'orders [orders:read] /api/orders/');
    assert.equal(judged('GET', '/Api/Orders'), 'orders [orders:read] /Api/Orders');
    assert.equal(judged('GET', '/api/orders/1041/'), 'order [orders:read] /api/orders/1041/');
    assert.equal(judged('GET', '/api'), 'api [] /api');
    assert.equal(judged('GET', '/apix'), '404 no_route');
  });

  it('honours the per-route opt-outs', () => {
    assert.equal(judged('GET', '/Exact/Case'), 'exact [] /Exact/Case');
    assert.equal(judged('GET', '/Exact/Case/'), 'exact [] /Exact/Case/', 'case sensitive, trailing slash still ignored');
    assert.equal(judged('GET', '/exact/case'), '404 no_route');
    assert.equal(judged('GET', '/strict/'), 'strict [] /strict/');
    assert.equal(judged('GET', '/strict'), '404 no_route');
    const strictPrefix = router([{ path: '/files/*', strictTrailingSlash: true }]);
    assert.equal(strictPrefix.resolve('GET', '/files').refusal?.reason, 'no_route');
    assert.equal(strictPrefix.resolve('GET', '/files/').refusal, null);
  });

  it('gives the route that owns the path every method on it: scopes for all, per method, or 405 with Allow', () => {
    assert.equal(judged('PUT', '/api/orders/1041'), 'order [orders:write] /api/orders/1041', '"*" covers the other default methods');
    assert.equal(judged('DELETE', '/api/orders/1041'), 'order [orders:write] /api/orders/1041');
    assert.equal(judged('POST', '/api/orders'), 'orders [orders:write] /api/orders');
    const put = table.resolve('PUT', '/api/orders');
    assert.deepEqual(put.refusal, { status: 405, reason: 'method_not_allowed', detail: 'PUT is not served on this path', allow: 'GET, HEAD, POST' });
    assert.equal(put.route?.name, 'orders', 'the 405 names the route that refused');
    assert.equal(judged('DELETE', '/api/admin/users'), 'admin [admin] /api/admin/users');
    assert.equal(judged('GET', '/oauth/token'), '405 method_not_allowed');
    assert.equal(table.resolve('GET', '/oauth/token').refusal?.allow, 'POST');
  });

  it('judges HEAD as GET, refuses TRACE and CONNECT with 405 and unknown methods with 501', () => {
    const head = table.resolve('HEAD', '/api/orders');
    assert.equal(head.method, 'GET');
    assert.deepEqual(head.scopes, ['orders:read']);
    assert.equal(judged('HEAD', '/api/orders/7'), 'order [orders:read] /api/orders/7');
    assert.equal(judged('TRACE', '/api/orders'), '405 method_not_allowed');
    assert.equal(judged('TRACE', '/api/anything'), '405 method_not_allowed');
    assert.equal(judged('CONNECT', '/api/anything'), '405 method_not_allowed');
    assert.equal(judged('PROPFIND', '/api/anything'), '501 method_not_implemented');
    assert.equal(judged('QUERY', '/nowhere'), '501 method_not_implemented');
    // a route may serve a method no default covers; it becomes known to the edge
    const dav = router([{ path: '/dav/*', methods: ['PROPFIND', 'GET'] }, { path: '/*' }]);
    assert.equal(dav.resolve('PROPFIND', '/dav/x').refusal, null);
    assert.equal(dav.resolve('PROPFIND', '/other').refusal?.status, 405);
    assert.equal(dav.resolve('TRACE', '/other').refusal?.status, 405);
  });

  it('refuses CONNECT with 405 and an empty Allow whatever its target, recording the target as sent', () => {
    const catchAll = router([{ path: '/*' }]);
    for (const target of ['example.com:443', '127.0.0.1:22', '[::1]:8080', '/api/orders', '*', 'http://example.com/', '', 'x'.repeat(3000)]) {
      const r = catchAll.resolve('CONNECT', target);
      assert.deepEqual(
        r.refusal,
        { status: 405, reason: 'method_not_allowed', detail: 'CONNECT is not served: this edge opens no tunnels', allow: '' },
        target,
      );
      assert.equal(r.route, null);
      assert.equal(r.path, target);
      assert.equal(r.method, 'CONNECT');
    }
    assert.equal(catchAll.resolve('connect', '/api').refusal?.status, 501, 'method names are case-sensitive (RFC 9110 9.1): "connect" is not CONNECT');
  });

  it('refuses a target without a canonical form with 400, and the raw path is what it records', () => {
    const r = table.resolve('GET', '/api%2Fadmin/users?q=1');
    assert.deepEqual(r.refusal, { status: 400, reason: 'encoded_slash', detail: 'encoded "/" (%2F) in the path' });
    assert.equal(r.path, '/api%2Fadmin/users');
    assert.equal(r.query, 'q=1');
    assert.equal(r.route, null);
    const kept = router([{ path: '/api/admin/*', scopes: ['admin'] }, { path: '/api/*' }], { ambiguousPaths: 'keep-encoded' }).resolve(
      'GET',
      '/api/admin%2Fusers',
    );
    assert.equal(kept.refusal, null);
    assert.equal(kept.path, '/api/admin%2Fusers', 'kept as data: one segment under the catch-all');
    assert.equal(kept.route?.pattern, '/api/*');
  });

  it('refuses at start a route table that cannot mean what it says, naming every problem', () => {
    assert.throws(
      () =>
        router([
          { path: '/api/orders', methods: ['GET'] },
          { path: '/API/orders/', methods: ['POST'] },
          { path: '/api//x' },
          { path: '/api/./y' },
          { path: '/api/%61' },
          { path: '/h', methods: ['HEAD'] },
          { path: '/s', scopes: { HEAD: ['x'] } },
          { path: '/m', methods: ['GET', 'PUT'], scopes: { GET: ['r'] } },
          { path: '/n', methods: ['GET'], scopes: { GET: ['r'], POST: ['w'] } },
          { path: '/bad', methods: ['G ET'] },
          { path: '/tunnel', methods: ['GET', 'CONNECT'] },
          { path: '/tunnel2', scopes: { CONNECT: ['x'], GET: [] } },
        ]),
      (err: Error) => {
        assert.ok(err instanceof RouteConfigError);
        assert.equal(err.code, 'AUDIT_ERR_EDGE_ROUTES');
        for (const want of [
          'routes.1.path: matches exactly what routes.0.path matches',
          'routes.2.path: "/api//x" is not a canonical path (write "/api/x")',
          'routes.3.path: "/api/./y" is not a canonical path (write "/api/y")',
          'routes.4.path: "/api/%61" is not a canonical path (write "/api/a")',
          'routes.5.methods: HEAD is judged as GET',
          'routes.6.scopes: HEAD is judged as GET',
          'routes.7.scopes: no scopes for PUT',
          'routes.8.scopes: POST is not in routes.8.methods',
          'routes.9: "G ET" is not a method name',
          'routes.10: CONNECT is never served',
          'routes.11: CONNECT is never served',
        ])
          assert.ok(err.message.includes(want), `${want}\n${err.message}`);
        return true;
      },
    );
    assert.doesNotThrow(() => router([{ path: '/g', methods: ['GET', 'HEAD'] }]), 'HEAD listed with GET is harmless');
    assert.throws(() => router([{ path: '/g' }], { methods: ['GET', 'connect'] }), /methods: CONNECT is never served/);
  });

  it('compiles patterns to anchored regexes', () => {
    assert.equal(compilePattern('/api/orders/:id').source, '^\\/api\\/orders\\/[^/]+$');
    assert.ok(compilePattern('/a.b').test('/a.b'));
    assert.ok(!compilePattern('/a.b').test('/axb'), 'a dot in a pattern is a dot');
    assert.ok(compilePattern('/api/orders*').test('/api/orders-old'));
  });

  it('remembers resolutions without changing one: 30,000 generated (method, target) pairs, asked in random order with repeats, equal the plain judgement', () => {
    const rnd = prng(4711);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const segments = [
      'api',
      'API',
      'admin',
      '%61dmin',
      'orders',
      'Orders',
      '1041',
      '..',
      '.',
      '%2e%2E',
      '',
      '%2F',
      ';x',
      '%00',
      'Exact',
      'Case',
      'strict',
      'oauth',
      'token',
      'é',
      '%C0%AF',
      'a b',
      '*',
      'x?y=1',
      '#f',
    ];
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'get'];
    const targets = Array.from({ length: 1000 }, () => {
      const n = Math.floor(rnd() * 5);
      const path = (rnd() < 0.9 ? '/' : pick(['', '*', 'http://h/', 'h:443'])) + Array.from({ length: n }, () => pick(segments)).join('/');
      return rnd() < 0.3 ? `${path}?${pick(['a=1', '', 'q=%20x', 'p=/../admin'])}` : path;
    });
    // ~9,500 distinct pairs: more than the cache holds, so its starting over when full is exercised too
    const cached = router(ROUTES);
    let hits = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 30_000; i++) {
      const method = pick(methods);
      const target = pick(targets);
      const key = `${method} ${target}`;
      if (seen.has(key)) hits++;
      seen.add(key);
      const got = cached.resolve(method, target);
      assert.deepEqual(got, cached.resolveUncached(method, target, null), `${method} ${target}`);
      // what the cache hands out cannot be changed by a reader
      assert.ok(Object.isFrozen(got) && (got.refusal === null || Object.isFrozen(got.refusal)));
    }
    assert.ok(hits > 10_000, `repeats exercised the cache (${hits})`);
    // a genuine preflight depends on its headers: judged afresh, never from (or into) the cache
    const preflight = { origin: 'https://app.example', method: 'GET', headers: [] };
    const asPreflight = cached.resolve('OPTIONS', '/api/orders', preflight);
    assert.deepEqual(asPreflight.preflight, { action: 'forward', request: preflight });
    assert.equal(cached.resolve('OPTIONS', '/api/orders').preflight, null);
  });
  it('answers targets either side of the 256-character cache limit, and a flood of distinct targets between asks, as the plain judgement', () => {
    const rnd = prng(256);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const cached = router([
      { name: 'admin', path: '/api/admin/*', scopes: ['admin'] },
      { name: 'orders', path: '/api/orders/:id', scopes: { GET: ['orders:read'], '*': ['orders:write'] } },
      { name: 'api', path: '/api/*' },
    ]);
    // a prefix that canonicalises to /api/admin/ (or not) and a filler that brings the target to an exact length
    const prefixes = [
      '/api/admin/',
      '/api/x/../admin/',
      '/api/%61dmin/',
      '/API/admin/',
      '/api//admin/',
      '/api/orders/',
      '/api/./orders/',
      '/other/../api/admin/',
    ];
    const victims: Array<[string, string]> = [];
    for (let len = 250; len <= 262; len++)
      for (const prefix of prefixes)
        for (const tail of ['', '/', '?q=1', '/..', '/%2e%2e/admin']) {
          const fill = len - prefix.length - tail.length;
          if (fill > 0) victims.push([pick(['GET', 'HEAD', 'POST', 'OPTIONS']), prefix + 'a'.repeat(fill) + tail]);
        }
    assert.ok(victims.some(([, t]) => t.length === 256) && victims.some(([, t]) => t.length === 257));
    for (let round = 0; round < 3; round++) {
      for (const [method, target] of victims) {
        assert.deepEqual(cached.resolve(method, target), cached.resolveUncached(method, target, null), `${method} ${target} (${target.length})`);
        // an attacker's distinct targets in between: the cache fills and starts over, the answers stay
        for (let i = 0; i < 40; i++) cached.resolve('GET', `/api/admin/${round}-${i}-${Math.floor(rnd() * 1e9)}`);
      }
    }
  });
});
