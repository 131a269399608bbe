import type { ErrorDefinition } from '@jwt-audit/runtime';
import type { AuthResult } from './exchange-events.js';
import { answerPreflight } from './preflight.js';
import { problem, PROBLEMS, type Problem } from './problem.js';
import type { Mode, Refusal, Resolution } from './routes.js';

/**
 * Whether a request may pass, and if not what it is answered: the router's refusals (400 / 404 /
 * 405 / 501), a fail-closed route while audit events cannot be recorded (503), a CORS preflight
 * (preflight.ts), and the bearer token's verdict with its RFC 6750 challenge:
 *   no credentials (3.1: no error code)      401  WWW-Authenticate: Bearer realm="api"
 *   Authorization not a Bearer credential    400  ... error="invalid_request", error_description="..."
 *   a token that does not verify             401  ... error="invalid_token", error_description="..."
 *   a valid token without the route's scopes 403  ... error="insufficient_scope", error_description="...", scope="..."
 * Observe mode lets every request with a token through (refusals of the target still apply: the
 * proxy cannot forward a path it has no canonical form for).
 */
export type Decision =
  | { allow: true }
  /** `problem` null: an answer without a body (a preflight answered at the edge, 204). */
  | { allow: false; status: number; problem: Problem | null; headers: Record<string, string> };

export interface DecideOptions {
  /** The realm of the challenges (default "api"). */
  realm?: string;
  /** false while audit events cannot be recorded (a fail-closed route is then 503). */
  canAccept: () => boolean;
}

const REFUSAL_PROBLEMS: Record<Refusal['status'], ErrorDefinition> = {
  400: PROBLEMS.AUDIT_ERR_HTTP_BAD_PATH,
  404: PROBLEMS.AUDIT_ERR_HTTP_NO_ROUTE,
  405: PROBLEMS.AUDIT_ERR_HTTP_METHOD_NOT_ALLOWED,
  501: PROBLEMS.AUDIT_ERR_HTTP_METHOD_NOT_IMPLEMENTED,
};

/** A request the router refused: the problem document, and Allow on a 405 (RFC 9110 15.5.6). */
export function refusalDecision(r: Refusal): Decision {
  return {
    allow: false,
    status: r.status,
    problem: problem(REFUSAL_PROBLEMS[r.status], r.detail, { reason: r.reason }),
    headers: r.allow !== undefined ? { allow: r.allow } : {},
  };
}

/** RFC 6750 3: a quoted-string value may not carry '"' or '\' (replaced), nor anything outside printable ASCII. */
export function challengeQuoted(s: string): string {
  return s.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
}

/** An RFC 6750 refusal: status, problem and its WWW-Authenticate challenge. */
export function bearerChallenge(auth: Exclude<AuthResult, { kind: 'none' }>, scopes: readonly string[], realm = 'api'): Decision & { allow: false } {
  const r = `realm="${challengeQuoted(realm)}"`;
  if (auth.kind === 'missing') {
    return {
      allow: false,
      status: 401,
      problem: problem(PROBLEMS.AUDIT_ERR_HTTP_UNAUTHORIZED, 'a bearer token is required'),
      headers: { 'www-authenticate': `Bearer ${r}` },
    };
  }
  if (auth.kind === 'verified' && !auth.outcome.ok && auth.outcome.reason === 'insufficient_scope') {
    return {
      allow: false,
      status: 403,
      problem: problem(PROBLEMS.AUDIT_ERR_HTTP_INSUFFICIENT_SCOPE, auth.outcome.detail, { reason: 'insufficient_scope' }),
      headers: {
        'www-authenticate': `Bearer ${r}, error="insufficient_scope", error_description="${challengeQuoted(auth.outcome.detail)}", scope="${challengeQuoted(scopes.join(' '))}"`,
      },
    };
  }
  const failed = auth.kind === 'verified' && !auth.outcome.ok ? auth.outcome : null;
  const reason = failed ? failed.reason : 'malformed';
  const detail = failed ? failed.detail : 'Authorization header is not a valid Bearer credential';
  const error = auth.kind === 'malformed-header' ? 'invalid_request' : 'invalid_token';
  const status = error === 'invalid_request' ? 400 : 401;
  return {
    allow: false,
    status,
    problem: problem(PROBLEMS.AUDIT_ERR_HTTP_INVALID_TOKEN, detail, { reason }, status),
    headers: { 'www-authenticate': `Bearer ${r}, error="${error}", error_description="${challengeQuoted(detail)}"` },
  };
}

const ALLOW: Decision = { allow: true };

export function decide(auth: AuthResult, mode: Mode, target: Resolution, o: DecideOptions): Decision {
  const route = target.route;
  if (target.refusal !== null) return refusalDecision(target.refusal);
  if (route?.onSpoolFull === 'fail-closed' && !o.canAccept()) {
    return {
      allow: false,
      status: 503,
      problem: problem(PROBLEMS.AUDIT_ERR_HTTP_AUDIT_UNAVAILABLE, 'this route is not served while audit events cannot be recorded'),
      headers: { 'retry-after': '5' },
    };
  }
  if (mode === 'observe') return ALLOW;
  if (target.preflight !== null && route !== null) {
    if (target.preflight.action === 'forward') return ALLOW;
    if (target.preflight.action === 'refuse') {
      return {
        allow: false,
        status: 403,
        problem: problem(PROBLEMS.AUDIT_ERR_HTTP_PREFLIGHT_REFUSED, 'this route does not serve cross-origin requests', { reason: 'preflight_refused' }),
        headers: {},
      };
    }
    return answerPreflight(route, target.preflight.request);
  }
  if (auth.kind === 'none') return ALLOW;
  if (auth.kind === 'verified' && auth.outcome.ok) return ALLOW;
  return bearerChallenge(auth, target.scopes, o.realm);
}
