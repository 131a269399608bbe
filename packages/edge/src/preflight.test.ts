import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from './decision.js';
import { RouteConfigError } from './errors.js';
import { corsResponseHeaders, preflightOf } from './preflight.js';
import { createRouter, DEFAULT_METHODS, type RouteConfig, type RouterOptions } from './routes.js';

const options: RouterOptions = {
  upstreams: { api: 'http://127.0.0.1:1' },
  mode: 'enforce',
  onSpoolFull: 'fail-open',
  methods: DEFAULT_METHODS,
  ambiguousPaths: 'reject',
  requireUpstream: true,
};
const router = (routes: RouteConfig[]) =>
  createRouter(
    routes.map((r) => ({ upstream: 'api', ...r })),
    options,
  );
const PREFLIGHT = { origin: 'https://app.example.com', 'access-control-request-method': 'POST' };

describe('CORS preflight: what counts as one', () => {
  it('a genuine preflight: OPTIONS, a serialized Origin, a method token, optional header names, no Authorization', () => {
    assert.deepEqual(preflightOf('OPTIONS', PREFLIGHT), { origin: 'https://app.example.com', method: 'POST', headers: [] });
    assert.deepEqual(preflightOf('OPTIONS', { ...PREFLIGHT, 'access-control-request-headers': 'Content-Type, X-Trace ,authorization' }), {
      origin: 'https://app.example.com',
      method: 'POST',
      headers: ['content-type', 'x-trace', 'authorization'],
    });
    for (const origin of ['null', 'http://localhost:3000', 'https://[::1]:8443', 'app-scheme://x.y', 'HTTPS://APP.EXAMPLE.COM'])
      assert.ok(preflightOf('OPTIONS', { ...PREFLIGHT, origin }), origin);
  });

  it('generated variants: nothing but a genuine preflight is one (every other spelling is judged as any request)', () => {
    const methods = ['OPTIONS', 'options', 'Options', 'OPTIONS ', 'GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'TRACE', 'CONNECT', 'PROPFIND', undefined];
    const origins: Array<string | string[] | undefined> = [
      undefined,
      '',
      ' ',
      'https://app.example.com',
      'null',
      'https://app.example.com/',
      'https://app.example.com/path',
      'app.example.com',
      '*',
      'https://a.example, https://b.example',
      ['https://a.example', 'https://b.example'],
      'https://user@app.example.com',
      'https://app.example.com:99999x',
      'javascript:alert(1)',
      'https://app.example.com\u0000',
    ];
    const requested: Array<string | string[] | undefined> = [
      undefined,
      '',
      'POST',
      'GET',
      'post',
      'P OST',
      'POST, PUT',
      ['POST', 'PUT'],
      'DELETE',
      'X-CUSTOM',
      '"POST"',
      'POST\t',
    ];
    const lists: Array<string | string[] | undefined> = [undefined, '', 'content-type', 'content-type,x-a', 'x a', 'x-a;y', ['x-a', 'x-b'], ','];
    const auths: Array<string | undefined> = [undefined, 'Bearer abc', ''];
    let genuine = 0;
    let total = 0;
    for (const m of methods)
      for (const o of origins)
        for (const r of requested)
          for (const l of lists)
            for (const a of auths) {
              const headers: Record<string, string | string[] | undefined> = {
                origin: o,
                'access-control-request-method': r,
                'access-control-request-headers': l,
                authorization: a,
              };
              const p = preflightOf(m, headers);
              total++;
              const originOk =
                typeof o === 'string' &&
                (o === 'null' || /^[a-z][a-z0-9+.-]*:\/\/[^/\s@,]+$/i.test(o)) &&
                !/:\d{6,}|:\d*[^\d\]]+$/.test(o.split('//')[1] ?? '') &&
                !o.includes('\u0000');
              const methodOk = typeof r === 'string' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(r);
              const listOk =
                l === undefined || (typeof l === 'string' && l.split(',').every((h) => h.trim() === '' || /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(h.trim())));
              const expected = m === 'OPTIONS' && originOk && methodOk && listOk && a === undefined;
              assert.equal(
                p !== null,
                expected,
                `${String(m)} origin=${JSON.stringify(o)} acrm=${JSON.stringify(r)} acrh=${JSON.stringify(l)} auth=${JSON.stringify(a)}`,
              );
              if (p) genuine++;
            }
    assert.equal(total, 56_160);
    assert.equal(genuine, 50, 'OPTIONS x 2 origins x 5 method tokens x 5 header lists, without Authorization');
  });
});

describe('CORS preflight: how a route judges one', () => {
  const table = router([
    { name: 'open', path: '/open/*', auth: 'none' },
    { name: 'fwd', path: '/fwd/*', scopes: ['x'] },
    { name: 'refuse', path: '/refuse/*', preflight: 'refuse' },
    {
      name: 'answer',
      path: '/answer/*',
      methods: ['GET', 'POST'],
      scopes: { GET: ['r'], POST: ['w'] },
      preflight: 'answer',
      cors: {
        origins: ['https://app.example.com'],
        headers: ['content-type', 'authorization'],
        exposeHeaders: ['x-request-id'],
        maxAgeSec: 120,
        credentials: true,
      },
    },
    { name: 'any', path: '/any/*', preflight: 'answer', cors: { origins: ['*'], headers: ['*'] } },
  ]);
  const judge = (path: string, h: Record<string, string>, mode: 'enforce' | 'observe' = 'enforce') => {
    const target = table.resolve('OPTIONS', path, preflightOf('OPTIONS', h));
    return { target, decision: decide({ kind: 'none' }, mode, target, { canAccept: () => true }) };
  };

  it('forward (default): passes without a token, no scopes asked', () => {
    const { target, decision } = judge('/fwd/x', PREFLIGHT);
    assert.equal(target.preflight?.action, 'forward');
    assert.deepEqual(target.scopes, []);
    assert.deepEqual(decision, { allow: true });
  });

  it('a plain OPTIONS, or a preflight with credentials, is judged as before: it needs a token', () => {
    const plain = table.resolve('OPTIONS', '/fwd/x', preflightOf('OPTIONS', {}));
    assert.equal(plain.preflight, null);
    assert.deepEqual(plain.scopes, ['x']);
    const missing = decide({ kind: 'missing' }, 'enforce', plain, { canAccept: () => true });
    assert.equal(missing.allow ? 0 : missing.status, 401);
    assert.equal(table.resolve('OPTIONS', '/fwd/x', preflightOf('OPTIONS', { ...PREFLIGHT, authorization: 'Bearer x' })).preflight, null);
  });

  it('a route without authentication treats a preflight as any OPTIONS; no route is still 404', () => {
    assert.equal(table.resolve('OPTIONS', '/open/x', preflightOf('OPTIONS', PREFLIGHT)).preflight, null);
    assert.equal(table.resolve('OPTIONS', '/nowhere', preflightOf('OPTIONS', PREFLIGHT)).refusal?.status, 404);
    assert.equal(table.resolve('OPTIONS', '/fwd/%2F', preflightOf('OPTIONS', PREFLIGHT)).refusal?.status, 400, 'canonical path rules first');
  });

  it('refuse: 403 with a problem, in enforce mode; observe mode forwards', () => {
    const { decision } = judge('/refuse/x', PREFLIGHT);
    assert.ok(!decision.allow);
    assert.equal(decision.status, 403);
    assert.equal(decision.problem?.reason, 'preflight_refused');
    assert.deepEqual(judge('/refuse/x', PREFLIGHT, 'observe').decision, { allow: true });
  });

  it('answer: 204 with the Access-Control-Allow-* headers for an allowed origin, method and headers', () => {
    const { decision } = judge('/answer/x', { ...PREFLIGHT, 'access-control-request-headers': 'Content-Type, Authorization' });
    assert.ok(!decision.allow);
    assert.equal(decision.status, 204);
    assert.equal(decision.problem, null);
    assert.deepEqual(decision.headers, {
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-methods': 'GET, HEAD, POST',
      'access-control-allow-headers': 'content-type, authorization',
      'access-control-allow-credentials': 'true',
      'access-control-max-age': '120',
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    });
    assert.equal((judge('/answer/x', { ...PREFLIGHT, 'access-control-request-method': 'HEAD' }).decision as { status: number }).status, 204, 'HEAD with GET');
  });

  it('answer: 403 naming what is not allowed', () => {
    const reason = (h: Record<string, string>, path = '/answer/x') => {
      const d = judge(path, h).decision;
      return d.allow ? 'allowed' : `${d.status} ${String(d.problem?.reason ?? '')}`;
    };
    assert.equal(reason({ ...PREFLIGHT, origin: 'https://evil.example' }), '403 preflight_origin_not_allowed');
    assert.equal(reason({ ...PREFLIGHT, origin: 'https://app.example.com:444' }), '403 preflight_origin_not_allowed');
    assert.equal(reason({ ...PREFLIGHT, origin: 'null' }), '403 preflight_origin_not_allowed');
    assert.equal(reason({ ...PREFLIGHT, 'access-control-request-method': 'DELETE' }), '403 preflight_method_not_allowed');
    assert.equal(reason({ ...PREFLIGHT, 'access-control-request-method': 'post' }), '403 preflight_method_not_allowed', 'method names are case-sensitive');
    assert.equal(reason({ ...PREFLIGHT, 'access-control-request-headers': 'x-other' }), '403 preflight_header_not_allowed');
    // "*": any origin but "null", any header but Authorization
    assert.equal(reason({ ...PREFLIGHT, origin: 'https://whoever.example', 'access-control-request-headers': 'x-a, x-b' }, '/any/x'), '204 ');
    assert.equal(reason({ ...PREFLIGHT, origin: 'null' }, '/any/x'), '403 preflight_origin_not_allowed');
    assert.equal(reason({ ...PREFLIGHT, 'access-control-request-headers': 'authorization' }, '/any/x'), '403 preflight_header_not_allowed');
  });

  it('answer: actual responses carry Access-Control-Allow-Origin for an allowed Origin only', () => {
    const route = table.routes.find((r) => r.name === 'answer')!;
    assert.deepEqual(corsResponseHeaders(route, 'https://app.example.com'), {
      'access-control-allow-origin': 'https://app.example.com',
      vary: 'Origin',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-request-id',
    });
    assert.equal(corsResponseHeaders(route, 'https://evil.example'), null);
    assert.equal(corsResponseHeaders(route, undefined), null);
    assert.equal(corsResponseHeaders(table.routes.find((r) => r.name === 'fwd')!, 'https://app.example.com'), null, 'forwarded: the upstream answers CORS');
  });

  it('refuses at start a CORS configuration that cannot mean what it says', () => {
    assert.throws(
      () =>
        router([
          { path: '/a', preflight: 'answer' },
          { path: '/b', cors: { origins: ['https://x.example'] } },
          { path: '/c', preflight: 'answer', cors: { origins: ['*'], credentials: true } },
          { path: '/d', preflight: 'answer', cors: { origins: ['https://x.example/', 'x.example', 'https://x.example/path'] } },
          { path: '/e', preflight: 'answer', cors: { origins: [] } },
          { path: '/f', auth: 'none', preflight: 'answer', cors: { origins: ['https://x.example'] } },
          { path: '/g', preflight: 'answer', cors: { origins: ['https://x.example'], headers: ['*', 'bad header'], credentials: true } },
        ]),
      (err: Error) => {
        assert.ok(err instanceof RouteConfigError);
        for (const want of [
          'routes.0.cors: required with preflight "answer"',
          'routes.1.cors: used only with preflight "answer"',
          'routes.2.cors: credentials cannot be allowed for "*"',
          'routes.3.cors.origins: "https://x.example/" is not a serialized origin',
          'routes.3.cors.origins: "x.example" is not a serialized origin',
          'routes.3.cors.origins: "https://x.example/path" is not a serialized origin',
          'routes.4.cors.origins: at least one origin',
          'routes.5.cors: a route without authentication',
          'routes.6.cors.headers: "*" is not a wildcard with credentials',
          'routes.6.cors: "bad header" is not a header name',
        ])
          assert.ok(err.message.includes(want), `${want}\n${err.message}`);
        return true;
      },
    );
  });
});
