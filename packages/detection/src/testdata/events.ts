import type { AuditEvent, EventKind } from '@jwt-audit/events';
import { alertId } from '../detector.js';

let n = 0;
export const T0 = Date.UTC(2026, 5, 1, 12);

export interface Spec {
  kind?: EventKind;
  at?: number;
  sub?: string | null;
  ip?: string;
  asn?: number;
  ua?: string;
  geo?: [number, number];
  jti?: string | null;
  sid?: string;
  familyId?: string | null;
  fingerprint?: string;
  previousFingerprint?: string | null;
  typ?: 'access' | 'refresh';
  iat?: number;
  exp?: number;
  alg?: string;
  reason?: string;
  status?: number;
  roles?: string[];
  scopes?: string[];
  clientId?: string;
  attributes?: Record<string, string>;
  noToken?: boolean;
}

const hex = (s: string) => Buffer.from(s.padEnd(32, '0').slice(0, 32)).toString('hex');

/** A compact builder of enriched events for rule tests (only what rules read varies). */
export function ev(s: Spec = {}): AuditEvent {
  const at = s.at ?? T0;
  const kind = s.kind ?? 'token.validated';
  return {
    id: alertId(at, 'test-event', String(n++)),
    schemaVersion: 2,
    kind,
    occurredAt: at,
    observedAt: at,
    source: { service: 'svc', instance: 'i', environment: 'test' },
    outcome: s.reason ? 'failure' : 'success',
    actor: {
      sub: s.sub === undefined ? 'alice' : s.sub,
      clientId: s.clientId ?? 'web',
      tenant: null,
      roles: s.roles ?? ['customer'],
      scopes: s.scopes ?? ['orders:read'],
    },
    token: s.noToken
      ? null
      : {
          jti: s.jti === undefined ? 'jti-1' : s.jti,
          sid: s.sid ?? 'sess-1',
          iss: 'https://id.example/',
          aud: [],
          kid: 'k1',
          alg: s.alg ?? 'RS256',
          iat: s.iat ?? Math.floor(at / 1000) - 60,
          nbf: null,
          exp: s.exp ?? Math.floor(at / 1000) + 840,
          typ: s.typ ?? 'access',
          familyId: s.familyId ?? null,
          fingerprint: s.fingerprint ?? hex('fp-default'),
          previousFingerprint: s.previousFingerprint ?? null,
        },
    rejection: s.reason ? { reason: s.reason as never, detail: null } : null,
    key: null,
    session: null,
    http:
      s.status !== undefined
        ? {
            request: { id: null, method: 'GET', scheme: 'https', host: 'h', path: '/p', route: null, query: null, headers: {}, body: null },
            response: { status: s.status, headers: {}, body: null, latencyMs: 1 },
          }
        : null,
    network: { clientIp: s.ip ?? '203.0.113.1', forwardedFor: [], userAgent: s.ua ?? 'Browser/1.0' },
    trace: null,
    masking: null,
    enrichment: {
      geo: s.geo ? { countryIso: null, country: null, city: null, lat: s.geo[0], lon: s.geo[1] } : null,
      asn: { number: s.asn ?? 64500, org: null },
      userAgent: null,
      ipClass: 'public',
      tokenAgeSec: null,
      tokenRemainingSec: null,
      lifetimeExceedsPolicy: false,
      authorization: null,
      sessionId: s.sid ?? 'sess-1',
      enrichedAt: null,
    },
    attributes: s.attributes ?? {},
    approval: null,
  };
}

export const fp = hex;
