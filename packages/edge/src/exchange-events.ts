import {
  newId,
  type Actor,
  type AuditEvent,
  type EventKind,
  type Http,
  type HttpRequest,
  type HttpResponse,
  type Network,
  type Outcome,
  type RejectionReason,
  type Source,
  type TokenInfo,
  type Trace,
} from '@jwt-audit/events';
import { actorFromClaims, claimString, tokenInfo, type DecodedToken, type VerifyOutcome } from '@jwt-audit/jwt';

/**
 * The events of one exchange: what was seen on the wire (already filtered by the capture policy)
 * plus the authentication outcome in, audit events out. No I/O. The request and response are the
 * event model's own types (the event carries them as they are).
 */

export interface Exchange {
  startedAt: number;
  request: HttpRequest;
  response: HttpResponse | null;
  network: Network | null;
  trace: Trace | null;
}

/** What authentication concluded for the exchange. */
export type AuthResult = { kind: 'none' } | { kind: 'missing' } | { kind: 'malformed-header' } | { kind: 'verified'; token: string; outcome: VerifyOutcome };

export const EMPTY_ACTOR: Actor = { sub: null, clientId: null, tenant: null, roles: [], scopes: [] };

// The verifier hands back the same outcome object for every use of a token it has cached, and a
// request asks for its actor four times and its token info twice: derive them once per outcome.
// Events only read them (they are encoded, never changed), so sharing is safe.
const actors = new WeakMap<VerifyOutcome, Actor>();
const tokens = new WeakMap<VerifyOutcome, TokenInfo>();

/** The actor an exchange is attributed to: verified claims only. An unverified token names nobody. */
export function actorOf(auth: AuthResult): Actor {
  if (auth.kind !== 'verified') return EMPTY_ACTOR;
  const o = auth.outcome;
  if (!o.ok && !o.signatureVerified) return EMPTY_ACTOR;
  let actor = actors.get(o);
  if (!actor) actors.set(o, (actor = actorFromClaims(o.ok ? o.claims : (o.decoded?.claims ?? null))));
  return actor;
}

export function tokenOf(auth: AuthResult): TokenInfo | null {
  if (auth.kind !== 'verified') return null;
  const o = auth.outcome;
  let info = tokens.get(o);
  if (!info) {
    const decoded: DecodedToken | null = o.decoded;
    tokens.set(o, (info = tokenInfo(auth.token, decoded, { typeHint: 'access', fingerprint: o.fingerprint })));
  }
  return info;
}

export function rejectionOf(auth: AuthResult): { reason: RejectionReason; detail: string } | null {
  switch (auth.kind) {
    case 'missing':
      return { reason: 'missing', detail: 'no bearer token' };
    case 'malformed-header':
      return { reason: 'malformed', detail: 'Authorization header is not a valid Bearer credential' };
    case 'verified':
      return auth.outcome.ok ? null : { reason: auth.outcome.reason, detail: auth.outcome.detail };
    default:
      return null;
  }
}

export function baseEvent(kind: EventKind, source: Source, occurredAt: number, observedAt: number, outcome: Outcome, actor: Actor): AuditEvent {
  return {
    id: newId(),
    schemaVersion: 4,
    kind,
    occurredAt,
    observedAt,
    source,
    outcome,
    actor,
    token: null,
    rejection: null,
    key: null,
    session: null,
    http: null,
    network: null,
    trace: null,
    masking: null,
    enrichment: null,
    attributes: {},
    approval: null,
  };
}

/** Attributes describing what a rejected token claimed; kept apart from actor because nothing vouches for them. */
function untrustedAttributes(auth: AuthResult): Record<string, string> {
  if (auth.kind !== 'verified' || auth.outcome.ok) return {};
  const o = auth.outcome;
  const attrs: Record<string, string> = { 'token.signatureVerified': String(o.signatureVerified) };
  if (!o.signatureVerified) {
    const sub = claimString(o.decoded?.claims?.sub);
    if (sub) attrs['token.claimedSub'] = sub;
  }
  if (o.missingScopes) attrs['authorization.missingScopes'] = o.missingScopes.join(' ');
  return attrs;
}

/**
 * The token event for an exchange (null for routes without authentication). A rejection is
 * token.rejected, built when the decision is made: it carries the request only and is published
 * at once, before any upstream answers. A success is token.validated, built when the response is
 * complete: it carries the request and the response and is the exchange's only event, so a proxied
 * request with a valid token is one record for Kafka, the broker and every stage downstream (it
 * used to be followed by an http.exchange holding the same request again).
 */
export function tokenEvent(exchange: Exchange, auth: AuthResult, source: Source, mode: 'enforce' | 'observe', now: number): AuditEvent | null {
  if (auth.kind === 'none') return null;
  const rejection = rejectionOf(auth);
  const e = baseEvent(rejection ? 'token.rejected' : 'token.validated', source, exchange.startedAt, now, rejection ? 'failure' : 'success', actorOf(auth));
  e.token = tokenOf(auth);
  e.rejection = rejection;
  e.http = { request: exchange.request, response: rejection ? null : exchange.response };
  e.network = exchange.network;
  e.trace = exchange.trace;
  e.attributes = { mode, ...untrustedAttributes(auth) };
  // claimsPolicy "flag": accepted, and what it would have been refused for
  if (auth.kind === 'verified' && auth.outcome.ok && auth.outcome.flags) e.attributes['token.flags'] = auth.outcome.flags.join(',');
  return e;
}

/**
 * The http.exchange event once the response is complete: for routes without authentication, and
 * after a token.rejected (marked with attributes["auth.rejection"]), where it records what the
 * client was answered.
 */
export function exchangeEvent(exchange: Exchange, auth: AuthResult, source: Source, now: number): AuditEvent {
  const status = exchange.response?.status ?? 0;
  const outcome: Outcome = exchange.response === null ? 'unknown' : status < 400 ? 'success' : 'failure';
  const e = baseEvent('http.exchange', source, exchange.startedAt, now, outcome, actorOf(auth));
  e.token = tokenOf(auth);
  const http: Http = { request: exchange.request, response: exchange.response };
  e.http = http;
  e.network = exchange.network;
  e.trace = exchange.trace;
  const rejection = rejectionOf(auth);
  if (rejection) e.attributes = { 'auth.rejection': rejection.reason, ...untrustedAttributes(auth) };
  return e;
}
