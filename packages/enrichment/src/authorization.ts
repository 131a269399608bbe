import type { AuditEvent, AuthorizationCheck } from '@jwt-audit/events';
import type { RouteScopeRule } from './policy.js';

interface CompiledRule extends RouteScopeRule {
  re: RegExp;
}

const compiled = new WeakMap<RouteScopeRule[], CompiledRule[]>();

function compile(rules: RouteScopeRule[]): CompiledRule[] {
  let c = compiled.get(rules);
  if (!c) {
    c = rules.map((r) => {
      const body = r.route
        .replace(/\/+$/, '')
        .split('/')
        .map((seg) => (seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      return { ...r, method: r.method?.toUpperCase(), re: new RegExp(`^${body}/?$`) } as CompiledRule;
    });
    compiled.set(rules, c);
  }
  return c;
}

/**
 * Route -> required scopes. The request's route template is compared first (the interceptor
 * records it when the framework knows it), else its path is matched against the templates.
 * `mismatch` means the token lacked a scope the route requires, whatever the upstream answered:
 * a 2xx with a mismatch is an authorization gap in the service, a 403 is enforcement working.
 */
export function checkAuthorization(e: AuditEvent, rules: RouteScopeRule[]): AuthorizationCheck | null {
  if (!e.http || rules.length === 0) return null;
  const { method, route, path } = e.http.request;
  const m = method.toUpperCase();
  const candidates = compile(rules).filter((r) => !r.method || r.method === m);
  const rule = (route ? candidates.find((r) => r.route === route) : undefined) ?? candidates.find((r) => r.re.test(path.split('?')[0]!));
  if (!rule) return null;
  const have = new Set(e.actor.scopes.flatMap((s) => s.split(' ')));
  const missing = rule.scopes.filter((s) => !have.has(s));
  return { requiredScopes: [...rule.scopes], missingScopes: missing, mismatch: missing.length > 0 };
}
