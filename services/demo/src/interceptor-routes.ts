import type { RouteConfig, SamplingRule } from '@jwt-audit/edge';

/**
 * What the interceptor fronts in `npm start`: the demo authorization server (token and
 * revocation endpoints observed, JWKS) and the demo API. The interceptor knows nothing of the
 * demo; the supervisor hands it this table through its ordinary configuration variables
 * (demoInterceptorEnv).
 */
export function demoInterceptorConfig(
  authUrl: string,
  upstreamUrl: string,
): { upstreams: Record<string, string>; routes: RouteConfig[]; sampling: SamplingRule[] } {
  return {
    upstreams: { auth: authUrl, api: upstreamUrl },
    routes: [
      { name: 'token', path: '/oauth/token', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'token' },
      { name: 'revoke', path: '/oauth/revoke', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'revocation' },
      { name: 'well-known', path: '/.well-known/*', methods: ['GET'], upstream: 'auth', auth: 'none' },
      { name: 'health', path: '/healthz', methods: ['GET'], upstream: 'api', auth: 'none' },
      { name: 'admin', path: '/api/admin/*', upstream: 'api', scopes: ['admin'], onSpoolFull: 'fail-closed', capture: { bodies: 'both' } },
      // one route per path, every method on it judged: PUT or DELETE here is 405, not the catch-all's business
      { name: 'orders', path: '/api/orders', upstream: 'api', scopes: { GET: ['orders:read'], POST: ['orders:write'] } },
      { name: 'order', path: '/api/orders/:id', upstream: 'api', scopes: { GET: ['orders:read'] } },
      { name: 'api', path: '/api/*', upstream: 'api' },
    ],
    sampling: [{ route: 'health', rate: 0.01 }],
  };
}

/** The interceptor's environment for the demo (AUDIT_INTERCEPTOR_UPSTREAMS / _ROUTES / _SAMPLING as JSON, AUDIT_JWT_AUDIENCE). */
export function demoInterceptorEnv(authUrl: string, upstreamUrl: string): Record<string, string> {
  const c = demoInterceptorConfig(authUrl, upstreamUrl);
  return {
    AUDIT_INTERCEPTOR_UPSTREAMS: JSON.stringify(c.upstreams),
    AUDIT_INTERCEPTOR_ROUTES: JSON.stringify(c.routes),
    AUDIT_INTERCEPTOR_SAMPLING: JSON.stringify(c.sampling),
    AUDIT_JWT_AUDIENCE: 'demo-api',
  };
}
