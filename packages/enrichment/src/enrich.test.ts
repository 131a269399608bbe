import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import { classifyIp, DEFAULT_ENRICHMENT_POLICY, enrich, parseUserAgent } from './index.js';

const ex = (k: string) => readSchemaFile(`examples/${k}.json`) as AuditEvent;

test('IP classes: private, loopback, link-local, reserved (incl. documentation ranges), public, v4 and v6', () => {
  assert.deepEqual(
    ['10.1.2.3', '192.168.1.1', '100.64.0.1', '127.0.0.1', '::1', 'fe80::1', '169.254.1.1', '203.0.113.5', '0.0.0.0', '8.8.8.8', '2001:4860:4860::8888', '::ffff:10.0.0.1', 'nope'].map(classifyIp),
    ['private', 'private', 'private', 'loopback', 'loopback', 'link-local', 'link-local', 'reserved', 'reserved', 'public', 'public', 'private', null],
  );
});

test('user agents are parsed by a maintained library', () => {
  assert.deepEqual(parseUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Safari/537.36'), { name: 'Chrome', version: '120.0.6099.71', os: 'Windows', osVersion: '10', device: null });
});

test('token age, remaining lifetime, lifetime policy, session correlation and authorization mismatch', () => {
  const e = ex('token.validated');
  const now = (e.token!.iat! + 120) * 1000;
  const geo = { countryIso: 'DE', country: 'Germany', city: 'Berlin', lat: 52.5, lon: 13.4 };
  const out = enrich({ ...e, network: { ...e.network!, clientIp: '8.8.8.8' } }, { geo: () => geo, asn: () => ({ number: 15169, org: 'Google' }) }, { ...DEFAULT_ENRICHMENT_POLICY, routeScopes: { '/orders/:id': ['orders:read', 'orders:admin'] } }, now).enrichment!;
  assert.equal(out.tokenAgeSec, 120);
  assert.equal(out.tokenRemainingSec, e.token!.exp! - e.token!.iat! - 120);
  assert.equal(out.lifetimeExceedsPolicy, false, '15 min access token is within the 1 h policy');
  assert.deepEqual(out.geo, geo);
  assert.deepEqual(out.asn, { number: 15169, org: 'Google' });
  assert.equal(out.ipClass, 'public');
  assert.deepEqual(out.authorization, { requiredScopes: ['orders:read', 'orders:admin'], missingScopes: ['orders:admin'], mismatch: true });
  assert.equal(out.sessionId, e.token!.sid);
  assert.equal(out.enrichedAt, now);

  const longLived = enrich({ ...e, token: { ...e.token!, exp: e.token!.iat! + 7 * 86_400 } }, {}, DEFAULT_ENRICHMENT_POLICY, now).enrichment!;
  assert.equal(longLived.lifetimeExceedsPolicy, true);
  const refreshed = ex('token.refreshed');
  const fam = enrich({ ...refreshed, token: { ...refreshed.token!, sid: null } }, {}, DEFAULT_ENRICHMENT_POLICY, now).enrichment!;
  assert.equal(fam.sessionId, `family:${refreshed.token!.familyId}`);
  const privateIp = enrich(e, { geo: () => geo }, DEFAULT_ENRICHMENT_POLICY, now).enrichment!;
  assert.equal(privateIp.geo, null, 'no geo lookup for a reserved address');
});
