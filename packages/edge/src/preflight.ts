import type { Decision } from './decision.js';
import { problem, PROBLEMS } from './problem.js';
import type { Route } from './routes.js';

/**
 * CORS preflights (Fetch standard, "CORS-preflight request"). A browser asks before a
 * cross-origin request that carries a token: OPTIONS with Origin and
 * Access-Control-Request-Method, and never credentials. It cannot carry a token, so on a route
 * that needs one it would always be 401 and the browser would never send the real request.
 *
 * Only a genuine preflight escapes authentication: method OPTIONS (exactly; method names are
 * case-sensitive), an Origin that is a serialized origin ("null" or scheme://host[:port]), an
 * Access-Control-Request-Method that is a method token, Access-Control-Request-Headers (if any) a
 * list of header names, each header sent once, and no Authorization header (a request with
 * credentials is judged on them). Anything else, a plain OPTIONS included, is judged as before.
 *
 * Per route, `preflight`:
 *   "forward" (default)  passed to the upstream unauthenticated (no subject header), which
 *                        answers it with its own CORS policy; audited as an http.exchange with no token
 *   "answer"             answered here from the route's `cors` policy: 204 with the
 *                        Access-Control-Allow-* headers, or 403 naming what is not allowed; the
 *                        upstream's actual responses then get Access-Control-Allow-Origin for an
 *                        allowed Origin (corsResponseHeaders)
 *   "refuse"             403: the route serves no cross-origin browser requests
 */
export type PreflightAction = 'forward' | 'answer' | 'refuse';

export interface CorsConfig {
  /** Serialized origins ("https://app.example.com", "null") or "*" (any origin but "null"). */
  origins: string[];
  /** Request headers a cross-origin request may carry (lower case; "*": any but Authorization, not with credentials). */
  headers?: string[];
  /** Response headers the page may read (Access-Control-Expose-Headers). */
  exposeHeaders?: string[];
  /** Access-Control-Max-Age, seconds (default 600: 10 min). */
  maxAgeSec?: number;
  /** Access-Control-Allow-Credentials: true (cookies, client certificates); not with "*". */
  credentials?: boolean;
}

/** A route's CORS policy, compiled once. */
export interface CorsPolicy {
  anyOrigin: boolean;
  origins: ReadonlySet<string>;
  anyHeader: boolean;
  headers: ReadonlySet<string>;
  exposeHeaders: string | null;
  maxAgeSec: number;
  credentials: boolean;
}

/** What a genuine preflight asks. */
export interface PreflightRequest {
  origin: string;
  /** Access-Control-Request-Method, as sent. */
  method: string;
  /** Access-Control-Request-Headers, lower case, in order. */
  headers: string[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 6454 6.2: scheme "://" host [":" port], no path, no userinfo; or "null"
const ORIGIN = /^(?:null|[a-z][a-z0-9+.-]*:\/\/(?:\[[0-9a-f:.]+\]|[a-z0-9._~%!$&'()*+,;=-]+)(?::[0-9]{1,5})?)$/i;

export function isSerializedOrigin(v: string): boolean {
  return ORIGIN.test(v);
}

type Headers = Record<string, string | string[] | undefined>;

/** The preflight a request is, or null when it is not a genuine one (then it is judged as any request). */
export function preflightOf(method: string | undefined, headers: Headers): PreflightRequest | null {
  if (method !== 'OPTIONS') return null;
  const origin = headers.origin;
  const requested = headers['access-control-request-method'];
  if (typeof origin !== 'string' || typeof requested !== 'string') return null;
  if (headers.authorization !== undefined) return null;
  if (!TOKEN.test(requested) || !ORIGIN.test(origin)) return null;
  const list = headers['access-control-request-headers'];
  let names: string[] = [];
  if (list !== undefined) {
    if (typeof list !== 'string') return null;
    names = list
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    if (!names.every((h) => TOKEN.test(h))) return null;
  }
  return { origin, method: requested, headers: names };
}

/** Checked at start: the problems of one route's `cors` (empty when none). */
export function corsProblems(cors: CorsConfig, at: string): string[] {
  const problems: string[] = [];
  if (cors.origins.length === 0) problems.push(`${at}.origins: at least one origin, or "*"`);
  for (const o of cors.origins) {
    if (o !== '*' && !(ORIGIN.test(o) && !o.endsWith('/')))
      problems.push(`${at}.origins: ${JSON.stringify(o)} is not a serialized origin (scheme://host[:port], or "null", or "*")`);
  }
  if (cors.credentials && cors.origins.includes('*'))
    problems.push(`${at}: credentials cannot be allowed for "*" (the Fetch standard refuses it): list the origins`);
  if (cors.credentials && cors.headers?.includes('*')) problems.push(`${at}.headers: "*" is not a wildcard with credentials: list the headers`);
  for (const h of [...(cors.headers ?? []), ...(cors.exposeHeaders ?? [])])
    if (h !== '*' && !TOKEN.test(h)) problems.push(`${at}: ${JSON.stringify(h)} is not a header name`);
  return problems;
}

export function compileCors(cors: CorsConfig): CorsPolicy {
  const headers = (cors.headers ?? []).map((h) => h.toLowerCase());
  return {
    anyOrigin: cors.origins.includes('*'),
    origins: new Set(cors.origins.filter((o) => o !== '*').map((o) => o.toLowerCase())),
    anyHeader: headers.includes('*'),
    headers: new Set(headers.filter((h) => h !== '*')),
    exposeHeaders: cors.exposeHeaders && cors.exposeHeaders.length > 0 ? cors.exposeHeaders.join(', ') : null,
    maxAgeSec: cors.maxAgeSec ?? 600, // 10 min
    credentials: cors.credentials ?? false,
  };
}

function originAllowed(p: CorsPolicy, origin: string): boolean {
  const o = origin.toLowerCase();
  return p.origins.has(o) || (p.anyOrigin && o !== 'null');
}

const VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

function refused(reason: string, detail: string): Decision {
  return { allow: false, status: 403, problem: problem(PROBLEMS.AUDIT_ERR_HTTP_PREFLIGHT_REFUSED, detail, { reason }), headers: { vary: VARY } };
}

/** A preflight answered at the edge from the route's policy: 204 with the Access-Control-Allow-* headers, or 403 naming what is not allowed. */
export function answerPreflight(route: Route, p: PreflightRequest): Decision {
  const cors = route.cors;
  if (!cors || !originAllowed(cors, p.origin))
    return refused('preflight_origin_not_allowed', `origin ${JSON.stringify(p.origin.slice(0, 256))} is not allowed on this route`);
  const judged = p.method === 'HEAD' ? 'GET' : p.method;
  if (!route.methods.has(judged)) return refused('preflight_method_not_allowed', `${p.method.slice(0, 32)} is not served on this route`);
  // Authorization is never covered by "*" (Fetch standard): it has to be listed
  const denied = p.headers.find((h) => !cors.headers.has(h) && !(cors.anyHeader && h !== 'authorization'));
  if (denied !== undefined)
    return refused('preflight_header_not_allowed', `request header ${JSON.stringify(denied.slice(0, 64))} is not allowed on this route`);
  const headers: Record<string, string> = {
    'access-control-allow-origin': p.origin,
    'access-control-allow-methods': route.allow,
    'access-control-max-age': String(cors.maxAgeSec),
    vary: VARY,
  };
  if (p.headers.length > 0) headers['access-control-allow-headers'] = p.headers.join(', ');
  if (cors.credentials) headers['access-control-allow-credentials'] = 'true';
  return { allow: false, status: 204, problem: null, headers };
}

/** For an actual (not preflight) response on a route whose preflights the edge answers: the CORS headers an allowed Origin gets; null for none. */
export function corsResponseHeaders(route: Route, origin: string | string[] | undefined): Record<string, string> | null {
  const cors = route.preflight === 'answer' ? route.cors : null;
  if (!cors || typeof origin !== 'string' || !originAllowed(cors, origin)) return null;
  const h: Record<string, string> = { 'access-control-allow-origin': origin, vary: 'Origin' };
  if (cors.credentials) h['access-control-allow-credentials'] = 'true';
  if (cors.exposeHeaders) h['access-control-expose-headers'] = cors.exposeHeaders;
  return h;
}
