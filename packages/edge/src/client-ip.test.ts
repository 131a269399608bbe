import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { invalidForwardedFor, networkOf, normalizeIp, parseForwardedFor, trustedProxies } from './client-ip.js';

describe('client IP', () => {
  it('normalizes addresses: brackets, zones, IPv4-mapped IPv6, an IPv4 port, case; null for anything else', () => {
    const cases: Array<[string | undefined, string | null]> = [
      ['1.2.3.4', '1.2.3.4'],
      [' 1.2.3.4 ', '1.2.3.4'],
      ['1.2.3.4:8080', '1.2.3.4'],
      ['::ffff:192.0.2.1', '192.0.2.1'],
      ['[2001:DB8::1]', '2001:db8::1'],
      ['[2001:db8::1]:443', '2001:db8::1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['unknown', null],
      ['_hidden', null],
      ['300.1.1.1', null],
      ['1.2.3.4/24', null],
      ['', null],
      [undefined, null],
    ];
    for (const [input, want] of cases) assert.equal(normalizeIp(input), want, String(input));
  });

  it('believes X-Forwarded-For only through trusted proxies, right to left', () => {
    const t = trustedProxies(['10.0.0.0/8', '::1']);
    assert.equal(networkOf('203.0.113.5', '198.51.100.1', undefined, t).clientIp, '203.0.113.5', 'an untrusted peer is the client, whatever it says');
    assert.equal(networkOf('10.0.0.2', '198.51.100.1', undefined, t).clientIp, '198.51.100.1');
    assert.equal(networkOf('10.0.0.2', '198.51.100.1, 203.0.113.7, 10.0.0.9', undefined, t).clientIp, '203.0.113.7', 'stops at the first untrusted hop');
    assert.equal(networkOf('::1', '10.1.1.1, 10.2.2.2', undefined, t).clientIp, '10.1.1.1', 'every hop trusted: the leftmost');
    assert.equal(networkOf('10.0.0.2', 'garbage, 10.0.0.3', undefined, t).clientIp, '10.0.0.3', 'garbage ends the walk at the last address believed');
    assert.equal(networkOf('10.0.0.2', ['198.51.100.1', '203.0.113.8'], undefined, t).clientIp, '203.0.113.8', 'repeated headers are one list');
    assert.equal(networkOf(undefined, undefined, undefined, t).clientIp, null);
  });

  it('records only addresses in forwardedFor, counts the rest, bounds hops and lengths', () => {
    const n = networkOf('127.0.0.1', 'unknown, 1.2.3.4, _x, [::1]:80', 'ua', trustedProxies([]));
    assert.deepEqual(n.forwardedFor, ['1.2.3.4', '::1']);
    assert.equal(n.userAgent, 'ua');
    assert.equal(invalidForwardedFor('unknown, 1.2.3.4, _x'), 2);
    assert.equal(invalidForwardedFor(undefined), 0);
    const many = Array.from({ length: 100 }, (_, i) => `10.0.${Math.floor(i / 256)}.${i % 256}`).join(', ');
    assert.equal(parseForwardedFor(many).length, 32, 'at most 32 hops (the nearest)');
    assert.equal(parseForwardedFor(many).at(-1), '10.0.0.99');
    assert.equal(parseForwardedFor('x'.repeat(500))[0]!.length, 64);
    assert.equal(networkOf('1.1.1.1', undefined, 'u'.repeat(600), trustedProxies([])).userAgent!.length, 512);
  });

  it('refuses a trusted-proxy entry that is not an address or CIDR', () => {
    for (const bad of ['localhost', '10.0.0.0/33', '::/129', '10.0.0.0/x', '']) assert.throws(() => trustedProxies([bad]), /trustedProxies/, bad);
    const t = trustedProxies(['192.168.0.0/16', 'fd00::/8']);
    assert.ok(t.isTrusted('192.168.4.4') && t.isTrusted('::ffff:192.168.4.4') && t.isTrusted('FD00::1'));
    assert.ok(!t.isTrusted('192.169.0.1') && !t.isTrusted('not-an-ip'));
  });
});
