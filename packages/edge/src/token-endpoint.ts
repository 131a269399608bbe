import { LRUCache } from 'lru-cache';
import type { AuditEvent, Revocation, Source, TokenInfo } from '@jwt-audit/events';
import { actorFromClaims, claimString, decodeUnverified, tokenFingerprint, tokenInfo, type Verifier } from '@jwt-audit/jwt';
import { baseEvent, type Exchange } from './exchange-events.js';

/**
 * Lifecycle events from watching an OAuth 2.0 authorization server's endpoints:
 *   token endpoint (RFC 6749 5.1 / 5.2): a 200 JSON response with access_token is token.issued
 *   (per token: access, refresh, id), or, for grant_type=refresh_token, token.refreshed with the
 *   refresh-token family and the fingerprint of the refresh token exchanged; an error response to
 *   a refresh grant is a failed token.refreshed (what refresh-token reuse looks like);
 *   revocation endpoint (RFC 7009): a 200 to a revocation request is token.revoked, and, for a
 *   JWT that verifies, a revocation record for its jti.
 * Tokens are decoded for their claims and fingerprinted; they never leave this module.
 */

/**
 * Refresh-token families: fingerprint of a refresh token -> family id. Bounded by lru-cache
 * (least recently written out first: reads `peek`, so a hot lookup does not keep a family alive).
 */
export class FamilyTracker {
  private readonly map: LRUCache<string, string>;
  /** family -> subject, so a refused refresh (no claims to read) is still attributed to its subject. */
  private readonly subjects: LRUCache<string, string>;
  constructor(max = 100_000) {
    this.map = new LRUCache({ max });
    this.subjects = new LRUCache({ max });
  }
  subject(family: string): string | undefined {
    return this.subjects.peek(family);
  }
  setSubject(family: string, sub: string): void {
    this.subjects.set(family, sub);
  }
  get(fp: string): string | undefined {
    return this.map.peek(fp);
  }
  set(fp: string, family: string): void {
    this.map.set(fp, family);
  }
}

export interface Observed {
  events: AuditEvent[];
  revocations: Revocation[];
}

function parseForm(body: Buffer, contentType: string | null): URLSearchParams {
  const text = body.toString('utf8');
  if (contentType?.includes('application/json')) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      return new URLSearchParams(Object.entries(o).filter(([, v]) => typeof v === 'string') as [string, string][]);
    } catch {
      return new URLSearchParams();
    }
  }
  return new URLSearchParams(text);
}

function basicClientId(authorization: string | undefined): string | null {
  if (!authorization?.toLowerCase().startsWith('basic ')) return null;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return null;
  try {
    return decodeURIComponent(decoded.slice(0, i)).slice(0, 256);
  } catch {
    return decoded.slice(0, Math.min(i, 256));
  }
}

function strip(exchange: Exchange): Exchange['request'] {
  // the token endpoint's bodies hold credentials: lifecycle events carry neither body
  return { ...exchange.request, body: null };
}

export interface TokenEndpointInput {
  kind: 'token' | 'revocation';
  exchange: Exchange;
  requestBody: Buffer;
  requestContentType: string | null;
  authorization: string | undefined;
  status: number;
  responseBody: Buffer | null;
}

export async function observeTokenEndpoint(
  input: TokenEndpointInput,
  source: Source,
  families: FamilyTracker,
  verifier: Verifier,
  now = Date.now(),
): Promise<Observed> {
  const form = parseForm(input.requestBody, input.requestContentType);
  const clientId = basicClientId(input.authorization) ?? claimString(form.get('client_id'));
  const mk = (kind: AuditEvent['kind'], outcome: AuditEvent['outcome'], claims: Record<string, unknown> | null, token: TokenInfo | null): AuditEvent => {
    const actor = actorFromClaims(claims);
    if (!actor.clientId) actor.clientId = clientId;
    const e = baseEvent(kind, source, input.exchange.startedAt, now, outcome, actor);
    e.token = token;
    e.http = { request: strip(input.exchange), response: null };
    e.network = input.exchange.network;
    e.trace = input.exchange.trace;
    const grant = form.get('grant_type');
    if (grant) e.attributes['oauth.grantType'] = grant.slice(0, 64);
    if (token?.sid) e.session = { id: token.sid, reason: null };
    return e;
  };

  if (input.kind === 'revocation') {
    const token = form.get('token');
    if (input.status !== 200 || !token) return { events: [], revocations: [] };
    const fp = tokenFingerprint(token);
    const outcome = await verifier.verify(token);
    // only a token we can vouch for names a subject or revokes a jti
    const trusted = outcome.ok || outcome.signatureVerified;
    const decoded = trusted ? decodeUnverified(token) : null;
    const claims = decoded?.claims ?? null;
    const hint = form.get('token_type_hint');
    const info = tokenInfo(token, decoded, {
      fingerprint: fp,
      typeHint: decoded ? 'access' : hint === 'refresh_token' ? 'refresh' : 'unknown',
      familyId: families.get(fp) ?? null,
    });
    const e = mk('token.revoked', 'success', claims, info);
    e.attributes['oauth.tokenTypeHint'] = (hint ?? '').slice(0, 32);
    const revocations: Revocation[] = [];
    // the whole jti, as the verifier compares it: claimString's 256-character cut would revoke a
    // jti no token has (the token's length is bounded by the verifier's maxTokenBytes)
    const jti = typeof claims?.jti === 'string' && claims.jti !== '' ? claims.jti : null;
    if (jti) {
      const exp = typeof claims?.exp === 'number' ? claims.exp * 1000 : null;
      revocations.push({ target: 'jti', value: jti, revokedAt: now, expiresAt: exp, reason: 'rfc7009', eventId: e.id });
    }
    // whether the edge refuses the token from now on: a revocation record names a jti, so a token
    // without one (or one the edge cannot verify, or an opaque refresh token) is revoked only at its issuer
    e.attributes['revocation.enforced'] = jti ? 'true' : 'false';
    return { events: [e], revocations };
  }

  const grant = form.get('grant_type');
  const presented = grant === 'refresh_token' ? form.get('refresh_token') : null;
  const presentedFp = presented ? tokenFingerprint(presented) : null;
  const family = presentedFp ? (families.get(presentedFp) ?? `fam-${presentedFp.slice(0, 16)}`) : null;

  let body: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = input.responseBody ? JSON.parse(input.responseBody.toString('utf8')) : null;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    body = null;
  }

  if (input.status !== 200 || !body || typeof body.access_token !== 'string') {
    if (!presentedFp) return { events: [], revocations: [] };
    const e = mk('token.refreshed', 'failure', null, {
      ...tokenInfo(presented!, null, { fingerprint: presentedFp, typeHint: 'refresh', familyId: family }),
      previousFingerprint: presentedFp,
    });
    e.attributes['oauth.error'] = String(claimString(body?.error) ?? `http_${input.status}`).slice(0, 64);
    // keyed like the family's other events (by subject), so per-subject rules see the replay
    if (!e.actor.sub && family) e.actor.sub = families.subject(family) ?? null;
    return { events: [e], revocations: [] };
  }

  const access = body.access_token;
  const accessDecoded = decodeUnverified(access);
  const claims = accessDecoded?.claims ?? null;
  const events: AuditEvent[] = [];
  const newRefresh = typeof body.refresh_token === 'string' ? body.refresh_token : null;
  const newRefreshFp = newRefresh ? tokenFingerprint(newRefresh) : null;
  const familyId = family ?? (newRefreshFp ? `fam-${newRefreshFp.slice(0, 16)}` : null);
  if (newRefreshFp && familyId) families.set(newRefreshFp, familyId);
  if (presentedFp && familyId) families.set(presentedFp, familyId);
  const subject = claimString(claims?.sub);
  if (familyId && subject) families.setSubject(familyId, subject);

  const accessInfo = tokenInfo(access, accessDecoded, { typeHint: 'access', familyId });
  events.push(mk('token.issued', 'success', claims, accessInfo));
  if (typeof body.id_token === 'string') {
    const idDecoded = decodeUnverified(body.id_token);
    events.push(mk('token.issued', 'success', idDecoded?.claims ?? claims, tokenInfo(body.id_token, idDecoded, { typeHint: 'id' })));
  }
  if (presentedFp) {
    // the rotation step: the new refresh token (or the same one, when the server does not rotate)
    const info: TokenInfo = {
      ...tokenInfo(newRefresh ?? presented!, null, { typeHint: 'refresh', familyId, previousFingerprint: presentedFp }),
      sid: accessInfo.sid,
    };
    events.push(mk('token.refreshed', 'success', claims, info));
  } else if (newRefresh) {
    const info: TokenInfo = { ...tokenInfo(newRefresh, null, { typeHint: 'refresh', familyId }), sid: accessInfo.sid };
    events.push(mk('token.issued', 'success', claims, info));
  }
  return { events, revocations: [] };
}
