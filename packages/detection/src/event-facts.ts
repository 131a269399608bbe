import type { AuditEvent } from '@jwt-audit/events';

/** Small readers over an AuditEvent that several rules share. */

export const clientIp = (e: AuditEvent): string | null => e.network?.clientIp ?? null;

/** Kinds in which a client presented a token to a protected resource. */
export function isPresentation(e: AuditEvent): boolean {
  return (e.kind === 'token.validated' || e.kind === 'token.rejected' || e.kind === 'http.exchange') && e.token !== null;
}

/**
 * Events whose claims were verified (a valid token was presented or issued): only these speak
 * for the subject. A rejected token's claims are untrusted and anyone can forge them.
 */
export function isVerified(e: AuditEvent): boolean {
  if (e.kind === 'token.validated' || e.kind === 'token.issued' || e.kind === 'token.refreshed') return e.outcome !== 'failure';
  if (e.kind === 'http.exchange') return e.token !== null && e.attributes['auth.rejection'] === undefined;
  return false;
}

/**
 * An authentication failure: a rejected token, or a 401 the upstream answered itself (wrong
 * password at the token endpoint, an application that refused a valid token...): an
 * http.exchange, or the token.validated that records a proxied request with a valid token. The
 * interceptor also writes an http.exchange for a request whose token it rejected, marked with
 * attributes['auth.rejection']: that one is not counted again.
 */
export function isAuthFailure(e: AuditEvent): boolean {
  if (e.kind === 'token.rejected') return e.rejection?.reason !== 'insufficient_scope';
  return (e.kind === 'http.exchange' || e.kind === 'token.validated') && e.http?.response?.status === 401 && e.attributes['auth.rejection'] === undefined;
}

export function sessionIdOf(e: AuditEvent): string | null {
  return e.enrichment?.sessionId ?? e.token?.sid ?? null;
}

/** A stable device label: browser / OS / device family without versions (updates are not new devices). */
export function deviceOf(e: AuditEvent): string | null {
  const ua = e.enrichment?.userAgent;
  if (ua && (ua.name || ua.os || ua.device)) return `${ua.name ?? '?'}|${ua.os ?? '?'}|${ua.device ?? '?'}`;
  const raw = e.network?.userAgent;
  if (!raw) return null;
  return raw.replace(/[\d._]+/g, '').slice(0, 200);
}

export function asnOf(e: AuditEvent): number | null {
  return e.enrichment?.asn?.number ?? null;
}

export function geoOf(e: AuditEvent): { lat: number; lon: number } | null {
  const g = e.enrichment?.geo;
  if (!g || g.lat === null || g.lon === null || !Number.isFinite(g.lat) || !Number.isFinite(g.lon)) return null;
  return { lat: g.lat, lon: g.lon };
}

const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance (haversine), km. */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * A sliding window of event times (and their event ids), newest last, holding at most `cap`
 * entries: enough to tell whether `cap` events fell within the window. Plain arrays: it is
 * snapshotted as JSON.
 */
export interface TimeWindow {
  t: number[];
  ids: string[];
}

export function pushWindow(w: TimeWindow | undefined, at: number, id: string, windowMs: number, cap: number): TimeWindow {
  const win = w ?? { t: [], ids: [] };
  // Kept sorted by event time, and evicted against the newest time held, not the arriving
  // event's: a repartitioned stream interleaves several source partitions, so an older event can
  // arrive after newer ones, and must neither bring back what fell out of the window nor keep
  // the window open (a count "within 60 s" whose evidence spans 40 minutes).
  let i = win.t.length;
  while (i > 0 && win.t[i - 1]! > at) i--;
  win.t.splice(i, 0, at);
  win.ids.splice(i, 0, id);
  const newest = win.t[win.t.length - 1]!;
  // drop what fell out of the window, and keep the newest `cap`
  let drop = 0;
  while (drop < win.t.length && (win.t[drop]! <= newest - windowMs || win.t.length - drop > cap)) drop++;
  if (drop > 0) {
    win.t.splice(0, drop);
    win.ids.splice(0, drop);
  }
  return win;
}

/** Paths of OAuth token endpoints (a login or refresh is a POST to one). */
export const TOKEN_PATHS = [
  '/oauth/token',
  '/oauth2/token',
  '/token',
  '/protocol/openid-connect/token',
  '/oauth2/v2.0/token',
  '/connect/token',
  '/oauth2/default/v1/token',
];

/**
 * A failed login at a token endpoint, as the edge records it: the http.exchange of a POST to a
 * token path answered 400 (RFC 6749 5.2 `invalid_grant`, the usual answer to a wrong password)
 * or 401 (`invalid_client`), for any grant but refresh_token (a refused refresh is a
 * token.refreshed failure, refresh-token-reuse's business). `username` is the attempted username
 * as the request body carries it (masked: a keyed hash, stable per user), when captured.
 */
export function loginFailureOf(e: AuditEvent): { username: string | null } | null {
  if (e.kind !== 'http.exchange' || e.token !== null) return null;
  const http = e.http;
  const status = http?.response?.status;
  if (!http || http.request.method !== 'POST' || (status !== 400 && status !== 401)) return null;
  const path = http.request.path;
  if (!TOKEN_PATHS.some((p) => path === p || path.endsWith(p))) return null;
  const body = http.request.body?.content ?? null;
  if (body === null) return { username: null };
  let form: URLSearchParams;
  try {
    form = new URLSearchParams(
      body.trim().startsWith('{')
        ? (Object.entries(JSON.parse(body) as Record<string, unknown>).filter(([, v]) => typeof v === 'string') as [string, string][])
        : body,
    );
  } catch {
    return { username: null };
  }
  if (form.get('grant_type') === 'refresh_token') return null;
  const u = form.get('username');
  return { username: u ? u.slice(0, 200) : null };
}
