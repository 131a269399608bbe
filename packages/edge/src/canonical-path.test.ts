import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalTarget, removeDotSegments, type CanonicalTarget } from './canonical-path.js';
import { prng } from '@jwt-audit/runtime/testing/prng';

const path = (t: string, mode: 'reject' | 'keep-encoded' = 'reject') => {
  const c = canonicalTarget(t, mode);
  assert.ok(c.ok, `${JSON.stringify(t)} refused: ${c.ok ? '' : c.reason}`);
  return c.path;
};
const reason = (t: string, mode: 'reject' | 'keep-encoded' = 'reject') => {
  const c = canonicalTarget(t, mode);
  assert.ok(!c.ok, `${JSON.stringify(t)} accepted as ${c.ok ? c.path : ''}`);
  return c.reason;
};

describe('canonicalTarget', () => {
  it('keeps a canonical path and its query as sent, and says nothing changed', () => {
    const c = canonicalTarget('/api/orders/1041?expand=items&x=%2F..%00');
    assert.deepEqual(c, { ok: true, path: '/api/orders/1041', query: 'expand=items&x=%2F..%00', rawPath: null } satisfies CanonicalTarget);
    assert.deepEqual(canonicalTarget('/'), { ok: true, path: '/', query: null, rawPath: null });
    assert.deepEqual(canonicalTarget('/a?'), { ok: true, path: '/a', query: '', rawPath: null });
    assert.equal(path("/a-b_c.d~e/!$&'()*+,=:@"), "/a-b_c.d~e/!$&'()*+,=:@");
    assert.equal(path('/.well-known/jwks.json'), '/.well-known/jwks.json');
  });

  it('decodes escaped unreserved characters and upper-cases the hex of every other escape', () => {
    assert.equal(path('/api/%61dmin/%55sers'), '/api/admin/Users');
    assert.equal(path('/%41%5a%61%7a%30%39%2d%2e%5f%7e'), '/AZaz09-._~');
    assert.equal(path('/caf%c3%a9/%20/%25/%3f/%23'), '/caf%C3%A9/%20/%25/%3F/%23');
    assert.equal(canonicalTarget('/api/%61dmin').ok && canonicalTarget('/api/%61dmin').rawPath, '/api/%61dmin', 'the spelling sent is kept for the event');
  });

  it('removes dot segments, encoded ones included, and merges repeated slashes', () => {
    const cases: Array<[string, string]> = [
      ['/api/x/../admin/users', '/api/admin/users'],
      ['/api/./admin/./users', '/api/admin/users'],
      ['/../../api/admin', '/api/admin'],
      ['/api/admin/users/.', '/api/admin/users/'],
      ['/api/admin/users/..', '/api/admin/'],
      ['/api/x/%2e%2e/admin', '/api/admin'],
      ['/api/x/.%2E/admin', '/api/admin'],
      ['/api/x/%2e/admin', '/api/x/admin'],
      ['//api///admin//users', '/api/admin/users'],
      ['/api//../admin', '/api/admin'],
      ['/a/b//..', '/a/b/'],
      ['//', '/'],
      ['/..', '/'],
      ['/...', '/...'],
      ['/a/..b/.c', '/a/..b/.c'],
    ];
    for (const [raw, want] of cases) assert.equal(path(raw), want, raw);
  });

  it('refuses what upstreams disagree about, each with its own reason', () => {
    const cases: Array<[string, string]> = [
      ['/api%2Fadmin', 'encoded_slash'],
      ['/api%2fadmin', 'encoded_slash'],
      ['/api/x/..%2Fadmin', 'encoded_slash'],
      ['/api%5Cadmin', 'encoded_backslash'],
      ['/api\\admin', 'backslash'],
      ['/api/x\\..\\admin', 'backslash'],
      ['/api;/admin', 'path_parameter'],
      ['/api/admin;jsessionid=1', 'path_parameter'],
      ['/api/admin%00', 'control_character'],
      ['/api/admin%0a', 'control_character'],
      ['/api/admin%7F', 'control_character'],
      ['/api/admin\u0000', 'control_character'],
      ['/api/admin\t', 'control_character'],
      ['/api/admin%', 'invalid_percent_encoding'],
      ['/api/admin%4', 'invalid_percent_encoding'],
      ['/api/admin%zz', 'invalid_percent_encoding'],
      ['/api/%C0%AFadmin', 'invalid_percent_encoding'],
      ['/api/%C0%AE%C0%AE/admin', 'invalid_percent_encoding'],
      ['/api/%E9', 'invalid_percent_encoding'],
      ['/api/admin#x', 'invalid_character'],
      ['/api/ad"min', 'invalid_character'],
      ['/api/{admin}', 'invalid_character'],
      ['/api/ad|min', 'invalid_character'],
      ['/api/admin\u00e9', 'invalid_character'],
      ['*', 'not_origin_form'],
      ['http://evil.example/api/admin', 'not_origin_form'],
      ['evil.example:443', 'not_origin_form'],
      ['', 'not_origin_form'],
      ['?a=1', 'not_origin_form'],
    ];
    for (const [raw, want] of cases) assert.equal(reason(raw), want, raw);
  });

  it('keep-encoded keeps ambiguous characters as data that no later step can turn into a separator', () => {
    assert.equal(path('/api%2Fadmin', 'keep-encoded'), '/api%2Fadmin');
    assert.equal(path('/api%2fadmin', 'keep-encoded'), '/api%2Fadmin');
    assert.equal(path('/api/x/..%2Fadmin', 'keep-encoded'), '/api/x/..%2Fadmin', '"..%2F" is not a dot segment');
    assert.equal(path('/api\\..\\admin', 'keep-encoded'), '/api%5C..%5Cadmin');
    assert.equal(path('/api;x=1/admin', 'keep-encoded'), '/api%3Bx=1/admin');
    // what is never kept, whatever the setting
    assert.equal(reason('/api/admin%00', 'keep-encoded'), 'control_character');
    assert.equal(reason('/api/%zz', 'keep-encoded'), 'invalid_percent_encoding');
    assert.equal(reason('*', 'keep-encoded'), 'not_origin_form');
  });

  it('agrees with the WHATWG URL parser on dot segments over generated paths, and is idempotent', () => {
    const rand = prng(15);
    const parts = ['a', 'B', '.', '..', '', '%2e', '%2E%2e', '.%2e', 'x.y', '...', '%41', 'c%20d', '-_~'];
    for (let n = 0; n < 2000; n++) {
      let p = '';
      const len = 1 + Math.floor(rand() * 7);
      for (let i = 0; i < len; i++) p += `/${parts[Math.floor(rand() * parts.length)]}`;
      const c = canonicalTarget(p);
      assert.ok(c.ok, p);
      // new URL resolves "." / ".." / "%2e" the RFC way; it decodes neither %41 nor merges slashes
      const whatwg = decodeUnreserved(new URL(`http://h${p}`).pathname).replace(/\/{2,}/g, '/');
      assert.equal(c.path, whatwg, p);
      assert.equal(path(c.path), c.path, `idempotent: ${p}`);
      assert.ok(
        !/\/\/|\/\.\.?(\/|$)|%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2[DE]|5F|7E)/i.test(c.path),
        `no dot segment, no "//", no escaped unreserved character left: ${c.path}`,
      );
    }
  });

  it('never throws and never lets a control character, backslash or escaped separator through, over generated targets', () => {
    const rand = prng(9);
    const alphabet = ['/', '.', '%', '2', 'f', 'F', '5', 'c', 'C', '0', 'e', 'E', 'a', '\\', ';', '?', '#', '\u0000', '\u007f', '\u00e9', 'z', ':', '@'];
    for (const mode of ['reject', 'keep-encoded'] as const) {
      for (let n = 0; n < 3000; n++) {
        let t = '/';
        const len = Math.floor(rand() * 14);
        for (let i = 0; i < len; i++) t += alphabet[Math.floor(rand() * alphabet.length)];
        const c = canonicalTarget(t, mode);
        if (!c.ok) continue;
        assert.ok(!/[\u0000-\u001f\u007f-\uffff\\;#]/.test(c.path), `${JSON.stringify(t)} -> ${JSON.stringify(c.path)}`);
        assert.ok(!/%(?:[01][0-9A-F]|7F)/i.test(c.path), `no escaped control: ${c.path}`);
        if (mode === 'reject') assert.ok(!/%(?:2F|5C)/i.test(c.path), `no escaped separator: ${c.path}`);
        assert.doesNotThrow(() => decodeURIComponent(c.path));
        assert.equal(path(c.path, mode), c.path, `idempotent: ${c.path}`);
      }
    }
  });
});

function decodeUnreserved(p: string): string {
  return p.replace(/%([0-9A-Fa-f]{2})/g, (m, h: string) => {
    const ch = String.fromCharCode(parseInt(h, 16));
    return /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${h.toUpperCase()}`;
  });
}

describe('removeDotSegments', () => {
  it('is RFC 3986 5.2.4 (its examples), then repeated slashes merged', () => {
    assert.equal(removeDotSegments('/a/b/c/./../../g'), '/a/g');
    assert.equal(removeDotSegments('/mid/content=5/../6'), '/mid/6');
    assert.equal(removeDotSegments('/a//b'), '/a/b');
    assert.equal(removeDotSegments('/a/b/'), '/a/b/');
  });
});
