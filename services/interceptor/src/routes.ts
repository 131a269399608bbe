import type { Mode, RouteConfig, SpoolFullPolicy } from './config.js';

/** A configured route, compiled once at start. */
export interface Route {
  name: string;
  pattern: string;
  methods: Set<string> | null;
  upstream: URL | null;
  auth: 'jwt' | 'none';
  scopes: string[];
  mode: Mode;
  tokenEndpoint: 'token' | 'revocation' | null;
  capture: RouteConfig['capture'];
  onSpoolFull: SpoolFullPolicy;
  regex: RegExp;
}

function escape(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** "/orders/:id" -> segment parameter; a trailing "*" -> any suffix; else exact. */
export function compilePattern(pattern: string): RegExp {
  const star = pattern.endsWith('*');
  const body = (star ? pattern.slice(0, -1) : pattern)
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : escape(seg)))
    .join('/');
  return new RegExp(`^${body}${star ? '.*' : ''}$`);
}

export function compileRoutes(routes: RouteConfig[], upstreams: Record<string, string>, defaults: { mode: Mode; onSpoolFull: SpoolFullPolicy }, requireUpstream: boolean): Route[] {
  const problems: string[] = [];
  const out = routes.map((r, i): Route => {
    let upstream: URL | null = null;
    if (r.upstream !== undefined) {
      const u = upstreams[r.upstream];
      if (u === undefined) problems.push(`routes.${i}.upstream: no upstream named ${JSON.stringify(r.upstream)}`);
      else upstream = new URL(u);
    } else if (requireUpstream) problems.push(`routes.${i}.upstream: required`);
    return {
      name: r.name ?? r.path,
      pattern: r.path,
      methods: r.methods ? new Set(r.methods.map((m) => m.toUpperCase())) : null,
      upstream,
      auth: r.auth ?? 'jwt',
      scopes: r.scopes ?? [],
      mode: r.mode ?? defaults.mode,
      tokenEndpoint: r.tokenEndpoint ?? null,
      capture: r.capture,
      onSpoolFull: r.onSpoolFull ?? defaults.onSpoolFull,
      regex: compilePattern(r.path),
    };
  });
  if (problems.length > 0) throw new Error(`invalid routes:\n  - ${problems.join('\n  - ')}`);
  return out;
}

/** First route (in configuration order) whose pattern and method match. */
export function matchRoute(routes: Route[], method: string, path: string): Route | null {
  for (const r of routes) {
    if (r.methods && !r.methods.has(method)) continue;
    if (r.regex.test(path)) return r;
  }
  return null;
}
