import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reader } from 'maxmind';
import { readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import {
  classifyIp,
  createSessionIndex,
  createUserAgentCache,
  DEFAULT_ENRICHMENT_POLICY,
  enrich,
  geoFromReader,
  asnFromReader,
  openGeoDatabases,
  parseEnrichmentPolicy,
  parseUserAgent,
} from './index.js';
import { buildMmdb } from './testdata/mmdb-writer.js';

const example = (name: string) => structuredClone(readSchemaFile(`examples/${name}.json`)) as AuditEvent;

test('IP classes, v4 and v6', () => {
  const cases: [string, string | null][] = [
    ['10.1.2.3', 'private'],
    ['172.20.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd00::1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['[::1]:8443', 'loopback'],
    ['169.254.1.1', 'reserved'],
    ['fe80::1%eth0', 'reserved'],
    ['224.0.0.1', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['0.0.0.0', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['ff02::1', 'reserved'],
    ['8.8.8.8', 'public'],
    ['81.2.69.142', 'public'],
    ['2a02:1234::1', 'public'],
    ['::ffff:8.8.4.4', 'public'],
    ['not-an-ip', null],
    ['', null],
    ['999.1.1.1', null],
    ['10.1', null],
  ];
  for (const [ip, want] of cases) assert.equal(classifyIp(ip), want, ip);
});

test('user agents: browser, OS, device; a bare tool name; the cache returns the same answer', () => {
  const iphone = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1';
  assert.deepEqual(parseUserAgent(iphone), { name: 'Mobile Safari', version: '17.2', os: 'iOS', osVersion: '17.2', device: 'iPhone' });
  const chrome = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
  assert.deepEqual(parseUserAgent(chrome), { name: 'Chrome', version: '120.0.0.0', os: 'Windows', osVersion: '10', device: null });
  assert.deepEqual(parseUserAgent('my-batch-job/2.1 (linux)'), { name: 'my-batch-job', version: '2.1', os: 'linux', osVersion: null, device: null });
  assert.equal(parseUserAgent('python-requests')?.version, null);
  assert.equal(parseUserAgent('   '), null);
  const cached = createUserAgentCache(2);
  assert.deepEqual(cached(chrome), parseUserAgent(chrome));
  cached(iphone);
  cached('x/1');
  assert.deepEqual(cached(chrome), parseUserAgent(chrome), 'evicted entries are parsed again');
});

test('geo and ASN from a MaxMind-format database (a tiny one built here), public addresses only', async () => {
  const city = buildMmdb({
    '81.2.69.0/24': {
      country: { iso_code: 'GB', names: { en: 'United Kingdom' } },
      city: { names: { en: 'London' } },
      location: { latitude: 51.5142, longitude: -0.0931 },
    },
    '2a02:1234::/32': { country: { iso_code: 'DE', names: { en: 'Germany' } }, location: { latitude: 51.2993, longitude: 9.491 } },
    '10.0.0.0/8': { country: { iso_code: 'ZZ', names: { en: 'Nowhere' } } },
  });
  const asn = buildMmdb({ '81.2.69.0/24': { autonomous_system_number: 20712, autonomous_system_organization: 'Andrews & Arnold Ltd' } }, 'Test-ASN');
  const dir = await mkdtemp(join(tmpdir(), 'enrichment-'));
  try {
    await writeFile(join(dir, 'city.mmdb'), city);
    await writeFile(join(dir, 'asn.mmdb'), asn);
    const dbs = await openGeoDatabases({ geo: join(dir, 'city.mmdb'), asn: join(dir, 'asn.mmdb') });
    const e = example('token.validated');
    e.network = { clientIp: '81.2.69.142', forwardedFor: [], userAgent: null };
    const out = enrich(e, { ...dbs, now: () => 1 }, DEFAULT_ENRICHMENT_POLICY).enrichment!;
    assert.deepEqual(out.geo, { countryIso: 'GB', country: 'United Kingdom', city: 'London', lat: 51.5142, lon: -0.0931 });
    assert.deepEqual(out.asn, { number: 20712, org: 'Andrews & Arnold Ltd' });
    assert.equal(out.ipClass, 'public');
    e.network.clientIp = '2a02:1234:5::9';
    assert.deepEqual(enrich(e, dbs, DEFAULT_ENRICHMENT_POLICY).enrichment!.geo, { countryIso: 'DE', country: 'Germany', city: null, lat: 51.2993, lon: 9.491 });
    e.network.clientIp = '10.9.9.9';
    assert.equal(enrich(e, dbs, DEFAULT_ENRICHMENT_POLICY).enrichment!.geo, null, 'private addresses are not looked up');
    e.network.clientIp = '8.8.8.8';
    const miss = enrich(e, dbs, DEFAULT_ENRICHMENT_POLICY).enrichment!;
    assert.equal(miss.geo, null);
    assert.equal(miss.asn, null);
    await writeFile(join(dir, 'junk.mmdb'), 'not a database');
    await assert.rejects(openGeoDatabases({ geo: join(dir, 'junk.mmdb') }));
    await assert.rejects(openGeoDatabases({ asn: join(dir, 'missing.mmdb') }), /ENOENT/);
    assert.equal(geoFromReader(new Reader(city))('81.2.69.1')?.city, 'London');
    assert.equal(asnFromReader(new Reader(city))('81.2.69.1'), null, 'a city DB has no ASN');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('token age, remaining lifetime, lifetime over policy, measured at the event time', () => {
  const e = example('token.validated');
  const at = 1_800_000_000;
  e.occurredAt = at * 1000 + 500;
  e.token = { ...e.token!, typ: 'access', iat: at - 120, exp: at + 600, nbf: null };
  let x = enrich(e, {}, DEFAULT_ENRICHMENT_POLICY).enrichment!;
  assert.equal(x.tokenAgeSec, 120);
  assert.equal(x.tokenRemainingSec, 600);
  assert.equal(x.lifetimeExceedsPolicy, false);
  e.token.exp = at + 86_400;
  x = enrich(e, {}, DEFAULT_ENRICHMENT_POLICY).enrichment!;
  assert.equal(x.lifetimeExceedsPolicy, true, 'a day-long access token exceeds 1 h');
  e.token.typ = 'refresh';
  assert.equal(enrich(e, {}, DEFAULT_ENRICHMENT_POLICY).enrichment!.lifetimeExceedsPolicy, false);
  e.token.exp = at - 30;
  assert.equal(enrich(e, {}, DEFAULT_ENRICHMENT_POLICY).enrichment!.tokenRemainingSec, -30, 'expired: negative');
  e.token.exp = null;
  assert.equal(enrich(e, {}, DEFAULT_ENRICHMENT_POLICY).enrichment!.lifetimeExceedsPolicy, true, 'no exp: unbounded');
  e.token.iat = null;
  const none = enrich(e, {}, DEFAULT_ENRICHMENT_POLICY).enrichment!;
  assert.deepEqual([none.tokenAgeSec, none.tokenRemainingSec, none.lifetimeExceedsPolicy], [null, null, false]);
  const strict = parseEnrichmentPolicy({ maxLifetimeSec: { access: 60 } });
  e.token = { ...e.token, typ: 'access', iat: at - 10, exp: at + 300 };
  assert.equal(enrich(e, {}, strict).enrichment!.lifetimeExceedsPolicy, true);
});

test('route -> required scopes: template first, then path match; missing scopes and mismatch recorded', () => {
  const policy = parseEnrichmentPolicy({
    routes: [
      { method: 'DELETE', route: '/orders/:id', scopes: ['orders:write', 'orders:admin'] },
      { route: '/orders/:id', scopes: ['orders:read'] },
      { route: '/admin/*', scopes: ['admin'] },
    ],
  });
  const e = example('http.exchange');
  e.actor.scopes = ['orders:read', 'orders:write'];
  e.http!.request = { ...e.http!.request, method: 'GET', path: '/orders/42', route: null };
  assert.deepEqual(enrich(e, {}, policy).enrichment!.authorization, { requiredScopes: ['orders:read'], missingScopes: [], mismatch: false });
  e.http!.request.method = 'DELETE';
  assert.deepEqual(enrich(e, {}, policy).enrichment!.authorization, {
    requiredScopes: ['orders:write', 'orders:admin'],
    missingScopes: ['orders:admin'],
    mismatch: true,
  });
  e.http!.request = { ...e.http!.request, method: 'POST', path: '/admin/users/7/disable', route: null };
  assert.deepEqual(enrich(e, {}, policy).enrichment!.authorization!.missingScopes, ['admin']);
  e.http!.request = { ...e.http!.request, method: 'GET', path: '/whatever', route: '/orders/:id' };
  assert.equal(enrich(e, {}, policy).enrichment!.authorization!.requiredScopes[0], 'orders:read', 'the route template is trusted over the path');
  e.http!.request = { ...e.http!.request, path: '/health', route: null };
  assert.equal(enrich(e, {}, policy).enrichment!.authorization, null, 'no rule: no check');
  assert.throws(
    () => parseEnrichmentPolicy({ routes: [{ route: 'orders', scopes: 'x' }], extra: 1 }),
    /must match pattern.*must be array|must be array.*must match pattern/,
  );
});

test('session correlation: sid, else the session learned for the refresh-token family, else derived from it', () => {
  const sessions = createSessionIndex(10);
  const issued = example('token.issued');
  issued.token = { ...issued.token!, sid: 'sess-1', familyId: 'fam-A' };
  issued.session = null;
  assert.equal(enrich(issued, { sessions }, DEFAULT_ENRICHMENT_POLICY).enrichment!.sessionId, 'sess-1');
  const refreshed = example('token.refreshed');
  refreshed.token = { ...refreshed.token!, sid: null, familyId: 'fam-A' };
  refreshed.session = null;
  assert.equal(enrich(refreshed, { sessions }, DEFAULT_ENRICHMENT_POLICY).enrichment!.sessionId, 'sess-1');
  refreshed.token.familyId = 'fam-B';
  assert.equal(enrich(refreshed, { sessions }, DEFAULT_ENRICHMENT_POLICY).enrichment!.sessionId, 'rtf:fam-B');
  assert.equal(enrich(refreshed, {}, DEFAULT_ENRICHMENT_POLICY).enrichment!.sessionId, 'rtf:fam-B');
  const started = example('session.started');
  started.token = null;
  assert.equal(enrich(started, {}, DEFAULT_ENRICHMENT_POLICY).enrichment!.sessionId, started.session!.id);
  const rotated = example('key.rotated');
  assert.equal(enrich(rotated, {}, DEFAULT_ENRICHMENT_POLICY).enrichment!.sessionId, null);
});

test('every example event enriches without throwing, and the result still encodes', async () => {
  const { eventCodec } = await import('@jwt-audit/events');
  for (const kind of [
    'http.exchange',
    'key.rotated',
    'session.ended',
    'session.started',
    'subject.deprovisioned',
    'token.issued',
    'token.refreshed',
    'token.rejected',
    'token.revoked',
    'token.validated',
  ]) {
    const e = example(kind);
    if (e.network) e.network.clientIp = 'garbage';
    const out = enrich(e, { now: () => 42 }, DEFAULT_ENRICHMENT_POLICY);
    assert.equal(out.enrichment!.enrichedAt, 42);
    assert.deepEqual(eventCodec.validate(out), [], kind);
    eventCodec.encode(out);
  }
});
