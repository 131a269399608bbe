import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { AuditError } from '@jwt-audit/runtime';
import { EDGE_ERRORS } from './errors.js';
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

/** A tiny deterministic generator, so a failing round can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * The walk as it was written by hand before proxy-addr (node's BlockList), kept here as the
 * specification the proxy-addr reading must agree with on every generated chain.
 */
function modelClientIp(remoteAddress: string | undefined, xff: string | string[] | undefined, entries: string[]): string | null {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const ip = normalizeIp(addr)!;
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(bits), type);
  }
  const trusted = (ip: string) => entries.length > 0 && list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  const hops = parseForwardedFor(xff);
  let client = normalizeIp(remoteAddress);
  if (client && trusted(client)) {
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeIp(hops[i]);
      if (!hop) break;
      client = hop;
      if (!trusted(hop)) break;
    }
  }
  return client;
}

describe('client IP: X-Forwarded-For read by proxy-addr agrees with the trusted-proxy walk (generated chains)', () => {
  const trustLists = [[], ['10.0.0.0/8'], ['10.0.0.0/8', '::1'], ['192.168.0.0/16', 'fd00::/8', '127.0.0.1'], ['10.1.2.3'], ['2001:db8::/32', '10.0.0.0/24']];
  // addresses inside and outside the trusted ranges, in every spelling a proxy writes
  const spellings = (ip: string): string[] =>
    isIP(ip) === 6 ? [ip, ip.toUpperCase(), `[${ip}]`, `[${ip}]:8443`, `${ip}%eth0`] : [ip, `${ip}:1234`, `::ffff:${ip}`, ` ${ip} `];
  const pool = [
    '10.0.0.1',
    '10.0.0.200',
    '10.1.2.3',
    '10.255.255.255',
    '11.0.0.1',
    '192.168.1.1',
    '192.169.0.1',
    '127.0.0.1',
    '203.0.113.7',
    '198.51.100.1',
    '::1',
    'fd00::5',
    'fe00::5',
    '2001:db8::9',
    '2001:db9::9',
  ];
  const junk = ['unknown', '_hidden', '', ' ', 'garbage', '300.1.1.1', '1.2.3', '1.2.3.4 5.6.7.8', '10.0.0.0/8', '[::1', '0x0a000001', 'null'];

  it('gives the same client for every generated peer, chain and trust list', () => {
    let compared = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const rnd = rng(seed);
      const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const entries = pick(trustLists);
      const t = trustedProxies(entries);
      const n = Math.floor(rnd() * 7);
      const hops: string[] = [];
      for (let i = 0; i < n; i++) hops.push(rnd() < 0.15 ? pick(junk) : pick(spellings(pick(pool))));
      const sep = pick([',', ', ', ' ,', ' , ', ',,']);
      const header: string | string[] = rnd() < 0.25 ? hops.map((h) => h) : hops.join(sep);
      const peer = rnd() < 0.05 ? pick([undefined, '', 'garbage']) : pick(spellings(pick(pool)));
      const got = networkOf(peer, n === 0 && rnd() < 0.5 ? undefined : header, undefined, t).clientIp;
      assert.equal(
        got,
        modelClientIp(peer, header, entries),
        `seed ${seed}: peer ${JSON.stringify(peer)} xff ${JSON.stringify(header)} trusted ${JSON.stringify(entries)}`,
      );
      compared++;
    }
    assert.equal(compared, 400);
  });

  it('a client cannot pick its own address: whatever it prepends, an untrusted hop ends the walk there', () => {
    const t = trustedProxies(['10.0.0.0/8']);
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = rng(seed);
      const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const forged = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => (rnd() < 0.3 ? pick(junk) : pick(spellings(pick(pool)))));
      // the real client 203.0.113.50 was written by a trusted proxy chain 10.x
      const chain = [...forged, '203.0.113.50', ...Array.from({ length: Math.floor(rnd() * 3) }, (_, i) => `10.0.0.${i + 2}`)];
      assert.equal(networkOf('10.0.0.1', chain.join(', '), undefined, t).clientIp, '203.0.113.50', JSON.stringify(chain));
    }
  });

  it('accepts netmasks and range names; refuses /0 (believing every client) and names every bad entry at once', () => {
    const t = trustedProxies(['10.0.0.0/255.0.0.0', 'loopback']);
    assert.ok(t.isTrusted('10.9.9.9') && t.isTrusted('127.0.0.1') && t.isTrusted('::1') && !t.isTrusted('11.0.0.1'));
    for (const bad of ['0.0.0.0/0', '::/0']) assert.throws(() => trustedProxies([bad]), /trustedProxies/, bad);
    assert.throws(
      () => trustedProxies(['10.0.0.0/8', 'localhost', '::/129']),
      (err: unknown) =>
        err instanceof AuditError &&
        err.code === EDGE_ERRORS.AUDIT_ERR_EDGE_TRUSTED_PROXIES.code &&
        /"localhost"/.test(err.message) &&
        /"::\/129"/.test(err.message),
    );
  });
});
