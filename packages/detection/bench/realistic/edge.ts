import { generateKeyPair, exportJWK, SignJWT, type CryptoKey } from 'jose';
import type { AuditEvent, Revocation, Source } from '@jwt-audit/events';
import { createVerifier, staticKeyStore, type RevocationCheck, type Verifier } from '@jwt-audit/jwt';
import { DEFAULT_POLICY, mask, parseKeyRing, type MaskingKeys } from '@jwt-audit/masking';
import { DEFAULT_ENRICHMENT_POLICY, createSessionIndex, createUserAgentCache, enrich, type EnrichmentLookups } from '@jwt-audit/enrichment';
// the evaluation wants exactly the code the edge runs: the interceptor's pure core
import { baseEvent, exchangeEvent, FamilyTracker, observeTokenEndpoint, tokenEvent, type AuthResult, type Exchange } from '@jwt-audit/edge';
import { asnLookup, geoLookup } from './world.js';

/**
 * The pipeline the corpus goes through, made of the project's own code: jose-signed JWTs,
 * the interceptor's verifier and event builders (API routes, the token and revocation
 * endpoints with its refresh-family tracker, revocation enforcement), the masker's masking and
 * the enricher's enrichment (geo / ASN from the simulated databases, user agents, sessions).
 * Events come out as audit.enriched.v1 would carry them. Time is simulated: every call takes
 * the simulated time, and each API instance reads its own (possibly skewed) clock.
 */

/**
 * The events the interceptor publishes for one complete exchange (engine.ts begin + finish): a
 * valid token's token.validated alone; a rejected token's token.rejected and the http.exchange
 * recording the answer; a route without authentication, its http.exchange.
 */
function exchangeEvents(exchange: Exchange, auth: AuthResult, source: Source, now: number): AuditEvent[] {
  const t = tokenEvent(exchange, auth, source, 'enforce', now);
  if (t?.kind === 'token.validated') return [t];
  const x = exchangeEvent(exchange, auth, source, now);
  return t ? [t, x] : [x];
}

export const ISSUER = 'https://id.example.com/';
export const STAGING_ISSUER = 'https://id-staging.example.com/';
export const AUDIENCE = 'orders-api';

export interface Route {
  name: string;
  path: string;
  scopes: string[];
}

export interface Caller {
  ip: string;
  ua: string;
}

interface Instance {
  source: Source;
  skewMs: number;
  verifier: Verifier;
}

export interface Edge {
  sign(claims: Record<string, unknown>, opts?: { alg?: string; kid?: string; key?: 'prod' | 'forged' }): Promise<string>;
  api(
    at: number,
    who: Caller,
    token: string | null,
    route: Route,
    opts?: { status?: number; bytes?: number; path?: string; method?: string },
  ): Promise<{ status: number; events: AuditEvent[] }>;
  tokenEndpoint(
    at: number,
    who: Caller,
    form: Record<string, string>,
    status: number,
    response: Record<string, unknown>,
    basic?: string,
  ): Promise<AuditEvent[]>;
  revoke(at: number, who: Caller, token: string, hint: 'access_token' | 'refresh_token'): Promise<AuditEvent[]>;
  lifecycle(at: number, kind: 'subject.deprovisioned', sub: string): AuditEvent;
  /** every event produced, in production order */
  readonly events: AuditEvent[];
  /** called with every event as it is produced (to label it) */
  onEvent: (e: AuditEvent) => void;
}

export async function createEdge(options: { skewedInstanceMs: number }): Promise<Edge> {
  const prod = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const forged = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = { ...(await exportJWK(prod.publicKey)), kid: 'prod-1', alg: 'EdDSA' };
  const keys = await staticKeyStore([jwk]);
  const clock = { now: 0 };
  const revoked = new Map<string, number | null>();
  const subjects = new Set<string>();
  const revocations: RevocationCheck = {
    isJtiRevoked: (jti) => {
      if (!revoked.has(jti)) return false;
      const exp = revoked.get(jti);
      return exp === null || exp === undefined || exp >= clock.now;
    },
    isSubjectRevoked: (sub) => subjects.has(sub),
  };
  const mkVerifier = (skewMs: number) =>
    createVerifier({ keys, algorithms: ['EdDSA'], issuer: ISSUER, audience: AUDIENCE, clockToleranceSec: 30, now: () => clock.now + skewMs });
  // three API instances behind a round-robin balancer; one's clock runs ahead
  const instances: Instance[] = [0, 0, options.skewedInstanceMs].map((skewMs, i) => ({
    source: { service: 'orders-api', instance: `orders-api-${i + 1}`, environment: 'prod' },
    skewMs,
    verifier: mkVerifier(skewMs),
  }));
  const idpSource: Source = { service: 'idp-edge', instance: 'idp-edge-1', environment: 'prod' };
  const idpVerifier = mkVerifier(0);
  const families = new FamilyTracker();
  const maskingKeys: MaskingKeys = parseKeyRing('eval-1:realistic-evaluation-masking-key-0123456789');
  const lookups: EnrichmentLookups = {
    geo: geoLookup,
    asn: asnLookup,
    userAgent: createUserAgentCache(),
    sessions: createSessionIndex(),
    now: () => clock.now + 40,
  };
  let rr = 0;
  const events: AuditEvent[] = [];

  const edge: Edge = {
    events,
    onEvent: () => undefined,
    async sign(claims, opts = {}) {
      const key: CryptoKey = (opts.key === 'forged' ? forged : prod).privateKey;
      return new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'EdDSA', kid: opts.kid ?? 'prod-1', typ: 'at+jwt' }).sign(key);
    },
    async api(at, who, token, route, opts = {}) {
      const inst = instances[rr++ % instances.length]!;
      const startedAt = at + inst.skewMs;
      clock.now = at;
      const auth: AuthResult =
        token === null
          ? { kind: 'missing' }
          : { kind: 'verified', token, outcome: await inst.verifier.verify(token, { requiredScopes: route.scopes, revocations }) };
      const ok = auth.kind === 'verified' && auth.outcome.ok;
      const reason = auth.kind === 'verified' && !auth.outcome.ok ? auth.outcome.reason : null;
      const status = ok ? (opts.status ?? 200) : reason === 'insufficient_scope' ? 403 : 401;
      const bytes = ok ? (opts.bytes ?? 2_000) : 180;
      const latencyMs = ok ? 15 + bytes / 200_000 : 1;
      const exchange: Exchange = {
        startedAt,
        request: {
          id: null,
          method: opts.method ?? 'GET',
          scheme: 'https',
          host: 'api.example.com',
          path: opts.path ?? route.path,
          route: route.name,
          query: null,
          headers: { 'user-agent': who.ua, accept: 'application/json' },
          body: null,
        },
        response: { status, headers: { 'content-type': 'application/json', 'content-length': String(bytes) }, body: null, latencyMs },
        network: { clientIp: who.ip, forwardedFor: [], userAgent: who.ua },
        trace: null,
      };
      const out = exchangeEvents(exchange, auth, inst.source, startedAt + Math.ceil(latencyMs));
      return { status, events: out.map(pipeline) };
    },
    async tokenEndpoint(at, who, form, status, response, basic) {
      clock.now = at;
      const body = new URLSearchParams(form).toString();
      const exchange: Exchange = {
        startedAt: at,
        request: {
          id: null,
          method: 'POST',
          scheme: 'https',
          host: 'id.example.com',
          path: '/oauth/token',
          route: 'token',
          query: null,
          headers: { 'user-agent': who.ua, 'content-type': 'application/x-www-form-urlencoded', ...(basic ? { authorization: `Basic ${basic}` } : {}) },
          // the token route records its request body (masking keeps the username as a keyed hash, redacts the password)
          body: { contentType: 'application/x-www-form-urlencoded', size: body.length, truncated: false, content: body, sha256: null },
        },
        response: { status, headers: { 'content-type': 'application/json' }, body: null, latencyMs: 40 },
        network: { clientIp: who.ip, forwardedFor: [], userAgent: who.ua },
        trace: null,
      };
      const observed = await observeTokenEndpoint(
        {
          kind: 'token',
          exchange,
          requestBody: Buffer.from(body),
          requestContentType: 'application/x-www-form-urlencoded',
          authorization: basic ? `Basic ${basic}` : undefined,
          status,
          responseBody: Buffer.from(JSON.stringify(response)),
        },
        idpSource,
        families,
        idpVerifier,
        at + 41,
      );
      const http = exchangeEvents(exchange, { kind: 'none' }, idpSource, at + 41);
      return [...http, ...observed.events].map(pipeline);
    },
    async revoke(at, who, token, hint) {
      clock.now = at;
      const body = new URLSearchParams({ token, token_type_hint: hint }).toString();
      const exchange: Exchange = {
        startedAt: at,
        request: {
          id: null,
          method: 'POST',
          scheme: 'https',
          host: 'id.example.com',
          path: '/oauth/revoke',
          route: 'revoke',
          query: null,
          headers: { 'user-agent': who.ua },
          body: null,
        },
        response: { status: 200, headers: {}, body: null, latencyMs: 20 },
        network: { clientIp: who.ip, forwardedFor: [], userAgent: who.ua },
        trace: null,
      };
      const observed = await observeTokenEndpoint(
        {
          kind: 'revocation',
          exchange,
          requestBody: Buffer.from(body),
          requestContentType: 'application/x-www-form-urlencoded',
          authorization: undefined,
          status: 200,
          responseBody: null,
        },
        idpSource,
        families,
        idpVerifier,
        at + 21,
      );
      for (const r of observed.revocations as Revocation[]) if (r.target === 'jti') revoked.set(r.value, r.expiresAt);
      return observed.events.map(pipeline);
    },
    lifecycle(at, kind, sub) {
      subjects.add(sub);
      const e = baseEvent(kind, { service: 'hr-sync', instance: 'hr-sync-1', environment: 'prod' }, at, at + 5, 'success', {
        sub,
        clientId: null,
        tenant: null,
        roles: [],
        scopes: [],
      });
      return pipeline(e);
    },
  };

  function pipeline(raw: AuditEvent): AuditEvent {
    const masked = mask(raw, DEFAULT_POLICY, maskingKeys).event;
    const e = enrich(masked, lookups, DEFAULT_ENRICHMENT_POLICY);
    events.push(e);
    edge.onEvent(e);
    return e;
  }

  return edge;
}
