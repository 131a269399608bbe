import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessionCodec, type SessionSummary } from '@jwt-audit/events';
import { checkDocument, SESSION_FIELDS, sessionToEcsDocument, withIndexTimes } from './index.js';

const base: SessionSummary = {
  id: 'sid:sess-1@1796112000000',
  schemaVersion: 1,
  revision: 3,
  basis: 'sid',
  sid: 'sess-1',
  familyId: 'fam-1',
  subject: 'alice',
  clientId: 'web',
  tenant: 'acme',
  explicitStart: true,
  startedAt: 1796112000000,
  lastSeenAt: 1796112600000,
  endedAt: 1796112700000,
  durationMs: 700000,
  endReason: 'sign_out',
  endDetail: 'logout',
  tokenExpiresAt: 1796112900000,
  ips: ['203.0.113.1', '2001:db8::1'],
  ipsDropped: 2,
  countries: ['DE'],
  cities: ['Berlin'],
  requests: 10,
  routes: ['GET /orders/:id'],
  routesDropped: 0,
  bytesIn: 100,
  bytesOut: 2000,
  rejections: 1,
  alerts: 2,
  alertRules: ['token-multi-origin'],
  approvals: 1,
  afterEnd: 1,
  events: 12,
  updatedAt: 1796112700001,
};

test('a session summary maps to the sessions template: every field mapped and accepted, open and ended alike', () => {
  const open: SessionSummary = {
    ...base,
    endedAt: null,
    endReason: null,
    endDetail: null,
    tokenExpiresAt: null,
    sid: null,
    familyId: null,
    clientId: null,
    tenant: null,
    ips: [],
    countries: [],
    cities: [],
    routes: [],
    alertRules: [],
  };
  // generated variants: each summary field at an extreme the codec accepts
  const variants: SessionSummary[] = [
    base,
    open,
    { ...base, ips: Array.from({ length: 32 }, (_, i) => `not-an-ip-${i}`), routes: ['x'.repeat(600)] },
    { ...base, durationMs: 0, bytesIn: 2 ** 52, startedAt: 0, lastSeenAt: 0 },
  ];
  for (const s of variants) {
    assert.deepEqual(sessionCodec.validate(s), []);
    const doc = withIndexTimes(sessionToEcsDocument(s), new Date(0).toISOString());
    assert.deepEqual(checkDocument(doc, SESSION_FIELDS), [], s.id);
    const session = (doc.jwt_audit as { session: { open: boolean; id: string } }).session;
    assert.equal((doc.event as { dataset: string }).dataset, 'jwt_audit.sessions');
    assert.deepEqual((doc.organization as { id?: string } | undefined)?.id, s.tenant ?? undefined);
    assert.equal(session.open, s.endedAt === null);
    assert.equal(session.id, s.id);
  }
});
