import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@jwt-audit/runtime';
import { createInterceptor, interceptorConfigProblems, type InterceptorConfig } from './index.js';
import { prng, quietLogger, testConfig } from './testdata/harness.js';

/** Problems only the meaning of a config shows (no broker is reached: createInterceptor refuses first). */
const base = (): InterceptorConfig =>
  testConfig({
    brokers: ['127.0.0.1:1'],
    spoolDir: '/nonexistent/spool',
    jwksUrl: 'http://127.0.0.1:1/jwks.json',
    issuer: 'https://issuer.test/',
    audience: 'api',
    upstreams: { api: 'http://127.0.0.1:1' },
    routes: [{ name: 'api', path: '/api/*', upstream: 'api', scopes: ['read'] }],
  });

// each: a way to break the config, and what its problem line names
const breakers: Array<[string, (c: InterceptorConfig) => void, RegExp]> = [
  ['an unknown upstream', (c) => (c.routes[0]!.upstream = 'nowhere'), /routes\.0.*nowhere|nowhere.*routes/],
  ['CONNECT on a route', (c) => ((c.routes[0] as { methods?: string[] }).methods = ['CONNECT']), /routes\.0: CONNECT/],
  ['a host name as a trusted proxy', (c) => (c.trustedProxies = ['proxy.internal']), /trustedProxies: "proxy\.internal"/],
  ['a prefix too long', (c) => (c.trustedProxies = ['10.0.0.0/40']), /trustedProxies: "10\.0\.0\.0\/40"/],
  ['/0 (every client trusted)', (c) => (c.trustedProxies = ['::/0']), /trustedProxies: "::\/0"/],
  ['no key source', (c) => (c.jwt = { ...c.jwt, jwksUrl: undefined as unknown as string, keys: [] }), /jwt: set jwksUrl or keys/],
];

describe('interceptor config problems found after the schema', () => {
  it('a valid config has none', () => {
    assert.deepEqual(interceptorConfigProblems(base()), []);
  });

  it('every generated combination of problems surfaces at once, as one AUDIT_ERR_CONFIG naming each', () => {
    const rnd = prng(18);
    for (let round = 0; round < 40; round++) {
      const chosen = breakers.filter(() => rnd() < 0.5);
      if (chosen.length === 0) continue;
      // two trusted-proxy breakers overwrite each other: keep the last, as the config would
      const c = base();
      for (const [, brk] of chosen) brk(c);
      const expected = chosen.filter(
        ([name], i) =>
          !(name.includes('proxy') || name.includes('prefix') || name.includes('/0')) ||
          chosen.slice(i + 1).every(([n]) => !(n.includes('proxy') || n.includes('prefix') || n.includes('/0'))),
      );
      assert.throws(
        () => createInterceptor(c, { logger: quietLogger() }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.equal(err.code, 'AUDIT_ERR_CONFIG');
          for (const [name, , names] of expected)
            assert.ok(
              err.problems.some((p) => names.test(p)),
              `round ${round}: ${name} not named in ${JSON.stringify(err.problems)}`,
            );
          return true;
        },
      );
    }
  });
});
