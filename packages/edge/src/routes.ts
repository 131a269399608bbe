import { compileApprovalRules, type ApprovalRule, type ApprovalRuleConfig } from './approvals.js';
import { canonicalTarget, type AmbiguousPathAction, type PathRefusalReason } from './canonical-path.js';
import type { BodyCapture } from './capture.js';
import { RouteConfigError } from './errors.js';
import { compileCors, corsProblems, type CorsConfig, type CorsPolicy, type PreflightAction, type PreflightRequest } from './preflight.js';

/**
 * Route resolution: which configured route judges a request, with which scopes, on which path.
 *
 * - The path is canonical first (canonical-path.ts); the route is matched on that form and the
 *   same form is forwarded.
 * - Matching is case-insensitive and ignores one trailing slash (as Express and most frameworks
 *   route); per route `caseSensitive` / `strictTrailingSlash` opt out. A "/prefix/*" pattern also
 *   covers "/prefix" itself (unless strictTrailingSlash).
 * - The first route whose path matches owns every method on that path: a method it does not serve
 *   is refused (405 with Allow), never handed to a later route (a GET-only route followed by a
 *   catch-all used to let PUT and DELETE through on the catch-all's terms). `scopes` apply to
 *   every method unless given per method; HEAD is judged as GET.
 * - Methods the edge does not know (neither in RFC 9110 nor served by any route) are 501; TRACE
 *   is known and served by no route unless one lists it: 405. CONNECT is always 405, whatever
 *   its target: the edge opens no tunnels (a tunnel's bytes could not be judged or audited), and
 *   a route that lists it is a configuration error.
 * - No route: 404 (the proxy has nowhere to send it; the middleware lets it through only in
 *   observe mode). A catch-all is a route like any other ("/*").
 * - A genuine CORS preflight (preflight.ts) on a route that needs a token is judged by the
 *   route's `preflight` action, without a token and whatever `methods` lists (it asks about
 *   another method); everything else about it (canonical path, 404) as for any request.
 */

export type Mode = 'enforce' | 'observe';
export type SpoolFullPolicy = 'fail-open' | 'fail-closed';

export interface RouteConfig {
  /** Shown in events (http.request.route) and metrics; defaults to the path pattern. */
  name?: string;
  /** "/api/orders/:id", "/api/*" (prefix, and "/api" itself), or an exact path; canonical (no "//", ".", "..", escaped unreserved characters). */
  path: string;
  /** Methods served on this path (default: `methods`); another method is 405. HEAD comes with GET. */
  methods?: string[];
  /** Key of `upstreams`; required for the proxy, ignored by middleware. */
  upstream?: string;
  /** "jwt" (default): bearer token validated; "none": not authenticated (token endpoint, JWKS). */
  auth?: 'jwt' | 'none';
  /** Scopes every method needs, or per method: { "GET": [...], "POST": [...], "*": [...] (the rest) }; HEAD is judged as GET. */
  scopes?: string[] | Record<string, string[]>;
  /** Match the path's case exactly (default false: case-insensitive, as Express routes). */
  caseSensitive?: boolean;
  /** "/a/" and "/a" are different paths (default false: one trailing slash is ignored). */
  strictTrailingSlash?: boolean;
  mode?: Mode;
  /** Observe this OAuth endpoint's traffic for lifecycle events. */
  tokenEndpoint?: 'token' | 'revocation';
  capture?: { headers?: string[]; bodies?: BodyCapture; maxBodyBytes?: number };
  onSpoolFull?: SpoolFullPolicy;
  /** CORS preflights on a route that needs a token: "forward" (default), "answer" (from `cors`), "refuse" (preflight.ts). */
  preflight?: PreflightAction;
  /** The CORS policy preflights are answered from; only with preflight "answer". */
  cors?: CorsConfig;
  /** Requests that need a person's approval first (approvals.ts); the first rule that holds applies. Enforce mode, proxy only. */
  approvals?: ApprovalRuleConfig[];
}

/** A configured route, compiled once at start. */
export interface Route {
  name: string;
  pattern: string;
  upstream: URL | null;
  auth: 'jwt' | 'none';
  /** Every method the route serves (HEAD not listed: it is GET) and the scopes each needs. */
  methods: ReadonlyMap<string, readonly string[]>;
  /** The Allow header for this route (HEAD included with GET). */
  allow: string;
  caseSensitive: boolean;
  strictTrailingSlash: boolean;
  mode: Mode;
  tokenEndpoint: 'token' | 'revocation' | null;
  capture: RouteConfig['capture'];
  onSpoolFull: SpoolFullPolicy;
  preflight: PreflightAction;
  cors: CorsPolicy | null;
  approvals: readonly ApprovalRule[];
  regex: RegExp;
}

export type RefusalReason = PathRefusalReason | 'no_route' | 'method_not_allowed' | 'method_not_implemented';

export interface Refusal {
  status: 400 | 404 | 405 | 501;
  reason: RefusalReason;
  detail: string;
  /** For a 405: the methods the route serves. */
  allow?: string;
}

/** How the edge judges one request. */
export interface Resolution {
  route: Route | null;
  /** The method the request is judged as (HEAD as GET). */
  method: string;
  /** The scopes the route needs for that method. */
  scopes: readonly string[];
  /** Canonical path (raw when the target was refused before it had one). */
  path: string;
  query: string | null;
  /** The path as sent, when it differs from `path`. */
  rawPath: string | null;
  refusal: Refusal | null;
  /** A genuine CORS preflight on a route that needs a token: how the route treats it (no token is looked at). */
  preflight: { action: PreflightAction; request: PreflightRequest } | null;
}

export interface Router {
  readonly routes: readonly Route[];
  /** `preflight`: what preflightOf() made of the request's headers (null: not a genuine preflight). */
  resolve(method: string, target: string, preflight?: PreflightRequest | null): Resolution;
  /** The same judgement made afresh every time (resolve remembers frequent targets'): for the differential test. */
  resolveUncached(method: string, target: string, preflight: PreflightRequest | null): Resolution;
}

/** Methods served by a route that does not name its own. HEAD comes with GET. */
export const DEFAULT_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** RFC 9110 9.3 and PATCH (RFC 5789): not served is 405; any other method is 501 unless a route serves it. */
const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * "/orders/:id" -> one segment parameter; a trailing "*" -> any suffix ("/api/*" also matches
 * "/api" unless strict); else exact. Patterns are matched against canonical paths, lower-cased
 * and without a trailing slash unless the route opts out.
 */
export function compilePattern(pattern: string, o: { caseSensitive?: boolean; strictTrailingSlash?: boolean } = {}): RegExp {
  let p = o.caseSensitive ? pattern : pattern.toLowerCase();
  const star = p.endsWith('*');
  if (star) p = p.slice(0, -1);
  const dirStar = star && p.endsWith('/');
  if (dirStar) p = p.slice(0, -1);
  else if (!o.strictTrailingSlash && p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  const body = p
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : escapeRegExp(seg)))
    .join('/');
  if (!star) return new RegExp(`^${body}$`);
  if (!dirStar) return new RegExp(`^${body}.*$`);
  return new RegExp(o.strictTrailingSlash ? `^${body}/.*$` : `^${body}(?:/.*)?$`);
}

/** The string a route's regex is tested against. */
function matchKey(path: string, r: Route): string {
  let k = r.caseSensitive ? path : path.toLowerCase();
  if (!r.strictTrailingSlash && k.length > 1 && k.endsWith('/')) k = k.slice(0, -1);
  return k;
}

function methodScopes(r: RouteConfig, i: number, defaultMethods: string[], problems: string[]): Map<string, readonly string[]> {
  const upper = (ms: string[]) => ms.map((m) => m.toUpperCase());
  const scopes = r.scopes ?? [];
  const named = Array.isArray(scopes) ? null : new Map(Object.entries(scopes).map(([m, s]) => [m.toUpperCase(), s] as const));
  const listed = r.methods ? upper(r.methods) : null;
  for (const m of listed ?? []) if (m === 'HEAD' && !listed?.includes('GET')) problems.push(`routes.${i}.methods: HEAD is judged as GET; list GET instead`);
  for (const m of named?.keys() ?? []) if (m === 'HEAD') problems.push(`routes.${i}.scopes: HEAD is judged as GET; give GET its scopes`);
  for (const m of [...(listed ?? []), ...(named?.keys() ?? [])]) {
    if (m !== '*' && !/^[A-Z][A-Z-]*$/.test(m)) problems.push(`routes.${i}: ${JSON.stringify(m)} is not a method name`);
    if (m === 'CONNECT') problems.push(`routes.${i}: CONNECT is never served (the edge opens no tunnels)`);
  }
  // served: the listed methods; else the methods the scopes name (all defaults with "*"); else the defaults
  const served = (listed ?? (named && !named.has('*') ? [...named.keys()] : defaultMethods)).filter((m) => m !== 'CONNECT');
  const out = new Map<string, readonly string[]>();
  for (const m of served) {
    if (m === 'HEAD') continue;
    const s = named ? (named.get(m) ?? named.get('*')) : scopes;
    if (s === undefined) problems.push(`routes.${i}.scopes: no scopes for ${m} (name it, or give "*")`);
    else out.set(m, s as string[]);
  }
  if (named) for (const m of named.keys()) if (m !== '*' && !out.has(m)) problems.push(`routes.${i}.scopes: ${m} is not in routes.${i}.methods`);
  return out;
}

export interface RouterOptions {
  upstreams: Record<string, string>;
  mode: Mode;
  onSpoolFull: SpoolFullPolicy;
  /** Methods a route serves when it names none (HEAD comes with GET). */
  methods: string[];
  ambiguousPaths: AmbiguousPathAction;
  /** The proxy needs an upstream on every route; the middleware needs none. */
  requireUpstream: boolean;
}

export function compileRoutes(routes: RouteConfig[], o: RouterOptions): Route[] {
  const problems: string[] = [];
  if (o.methods.some((m) => m.toUpperCase() === 'CONNECT')) problems.push('methods: CONNECT is never served (the edge opens no tunnels)');
  const defaultMethods = o.methods.map((m) => m.toUpperCase());
  const seen = new Map<string, number>();
  const out = routes.map((r, i): Route => {
    let upstream: URL | null = null;
    if (r.upstream !== undefined) {
      const u = o.upstreams[r.upstream];
      if (u === undefined) problems.push(`routes.${i}.upstream: no upstream named ${JSON.stringify(r.upstream)}`);
      else upstream = new URL(u);
    } else if (o.requireUpstream) problems.push(`routes.${i}.upstream: required`);
    const c = canonicalTarget(r.path.replace(/\*$/, ''), o.ambiguousPaths);
    if (!c.ok || c.rawPath !== null || c.query !== null)
      problems.push(
        `routes.${i}.path: ${JSON.stringify(r.path)} is not a canonical path${c.ok && c.query === null ? ` (write ${JSON.stringify(c.path + (r.path.endsWith('*') ? '*' : ''))})` : ''}`,
      );
    const caseSensitive = r.caseSensitive ?? false;
    const strictTrailingSlash = r.strictTrailingSlash ?? false;
    const regex = compilePattern(r.path, { caseSensitive, strictTrailingSlash });
    const key = `${caseSensitive}:${strictTrailingSlash}:${regex.source}`;
    const earlier = seen.get(key);
    if (earlier !== undefined)
      problems.push(
        `routes.${i}.path: matches exactly what routes.${earlier}.path matches, so it is never used (a route owns every method on its path: give routes.${earlier} the methods and per-method scopes)`,
      );
    else seen.set(key, i);
    const methods = methodScopes(r, i, defaultMethods, problems);
    const preflight = r.preflight ?? 'forward';
    if (preflight === 'answer' && !r.cors) problems.push(`routes.${i}.cors: required with preflight "answer" (the policy preflights are answered from)`);
    if (r.cors && preflight !== 'answer') problems.push(`routes.${i}.cors: used only with preflight "answer" (with "${preflight}" it would never apply)`);
    if (r.cors && (r.auth ?? 'jwt') === 'none')
      problems.push(`routes.${i}.cors: a route without authentication forwards its preflights as any request; the upstream answers them`);
    if (r.cors) problems.push(...corsProblems(r.cors, `routes.${i}.cors`));
    const approvals = compileApprovalRules(
      r.approvals,
      { index: i, name: r.name ?? r.path, methods: new Set(methods.keys()), auth: r.auth ?? 'jwt', caseSensitive, strictTrailingSlash },
      problems,
    );
    const allow = [...methods.keys()].flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
    return {
      name: r.name ?? r.path,
      pattern: r.path,
      upstream,
      auth: r.auth ?? 'jwt',
      methods,
      allow,
      caseSensitive,
      strictTrailingSlash,
      mode: r.mode ?? o.mode,
      tokenEndpoint: r.tokenEndpoint ?? null,
      capture: r.capture,
      onSpoolFull: r.onSpoolFull ?? o.onSpoolFull,
      preflight,
      cors: r.cors ? compileCors(r.cors) : null,
      approvals,
      regex,
    };
  });
  if (problems.length > 0) throw new RouteConfigError(problems);
  return out;
}

/** First route (in configuration order) whose pattern matches the canonical path; methods are not looked at. */
export function matchRoute(routes: readonly Route[], path: string): Route | null {
  for (const r of routes) if (r.regex.test(matchKey(path, r))) return r;
  return null;
}

const NONE: readonly string[] = [];
// RFC 9110 10.2.1: an empty Allow says the target allows no methods (a tunnel's authority is no resource here)
const CONNECT_REFUSAL: Refusal = { status: 405, reason: 'method_not_allowed', detail: 'CONNECT is not served: this edge opens no tunnels', allow: '' };

export function createRouter(routes: RouteConfig[], o: RouterOptions): Router {
  const compiled = compileRoutes(routes, o);
  const known = new Set([...KNOWN_METHODS, ...compiled.flatMap((r) => [...r.methods.keys()])]);
  const plain = (method: string, target: string, preflight: PreflightRequest | null): Resolution => {
    // node hands a CONNECT to the server's 'connect' listener, not to the request handler; its
    // target is authority-form ("host:443"), which is not a path: recorded as sent
    if (method === 'CONNECT') return { route: null, method, scopes: NONE, path: target, query: null, rawPath: null, refusal: CONNECT_REFUSAL, preflight: null };
    const judged = method === 'HEAD' ? 'GET' : method;
    const c = canonicalTarget(target, o.ambiguousPaths);
    if (!c.ok) {
      return {
        route: null,
        method: judged,
        scopes: NONE,
        path: c.rawPath,
        query: c.query,
        rawPath: null,
        refusal: { status: 400, reason: c.reason, detail: c.detail },
        preflight: null,
      };
    }
    const base = { method: judged, path: c.path, query: c.query, rawPath: c.rawPath, preflight: null };
    if (!known.has(method))
      return {
        ...base,
        route: null,
        scopes: NONE,
        refusal: { status: 501, reason: 'method_not_implemented', detail: `${method} is not a method this edge serves` },
      };
    const route = matchRoute(compiled, c.path);
    if (!route) return { ...base, route: null, scopes: NONE, refusal: { status: 404, reason: 'no_route', detail: 'no route matches this path' } };
    if (preflight !== null && route.auth === 'jwt')
      return { ...base, route, scopes: NONE, refusal: null, preflight: { action: route.preflight, request: preflight } };
    const scopes = route.methods.get(judged);
    if (!scopes)
      return {
        ...base,
        route,
        scopes: NONE,
        refusal: { status: 405, reason: 'method_not_allowed', detail: `${method} is not served on this path`, allow: route.allow },
      };
    return { ...base, route, scopes, refusal: null };
  };
  // A service sees the same few targets over and over (/api/orders?page=2 ...): their resolutions
  // are remembered, frozen (every reader copies, none may change a shared one), keyed by method
  // and target as sent, so canonicalisation and matching run once per distinct target. Bounded:
  // targets longer than RESOLVE_CACHE_TARGET are judged each time, and a full cache starts over
  // (a client sending endless distinct targets costs a Map insert each, never memory). A genuine
  // preflight depends on its headers too: never cached. routes.test.ts proves the cached answer
  // equal to the plain one on generated targets.
  const cache = new Map<string, Resolution>();
  return {
    routes: compiled,
    resolve(method, target, preflight = null) {
      if (preflight !== null || target.length > RESOLVE_CACHE_TARGET) return plain(method, target, preflight);
      // a method is a token (no NUL), so the key splits one way only
      const key = `${method}\u0000${target}`;
      let r = cache.get(key);
      if (r === undefined) {
        r = plain(method, target, null);
        if (r.refusal) Object.freeze(r.refusal);
        Object.freeze(r);
        if (cache.size >= RESOLVE_CACHE_SIZE) cache.clear();
        cache.set(key, r);
      }
      return r;
    },
    resolveUncached: plain,
  };
}

/** Distinct (method, target) resolutions remembered per router. */
const RESOLVE_CACHE_SIZE = 4096;
/** Longest target (characters) whose resolution is remembered: 4,096 of them stay under ~2 MiB. */
const RESOLVE_CACHE_TARGET = 256;
