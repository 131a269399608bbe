/**
 * The interceptor as a process: config file (--config or AUDIT_CONFIG) + AUDIT_* environment,
 * then serve until SIGINT/SIGTERM. With no routes configured and AUDIT_DEMO_AUTH_URL /
 * AUDIT_DEMO_UPSTREAM_URL set (as `npm start` does), it fronts the demo authorization server
 * and API with the routes from demoRoutes().
 */
import { createLogger, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { configSchema, defaults, env, type InterceptorConfig } from './config.js';
import { installProcessGuards } from './process-guards.js';
import { createInterceptor } from './service.js';

export function demoRoutes(authUrl: string, upstreamUrl: string): Pick<InterceptorConfig, 'upstreams' | 'routes'> {
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
  };
}

const logger = createLogger({ name: 'interceptor' });
try {
  const config = loadConfig<InterceptorConfig>({ service: 'interceptor', schema: configSchema, defaults, env });
  const demoAuth = process.env.AUDIT_DEMO_AUTH_URL;
  const demoApi = process.env.AUDIT_DEMO_UPSTREAM_URL;
  if (config.routes.length === 0 && demoAuth && demoApi) {
    Object.assign(config, demoRoutes(demoAuth, demoApi));
    config.jwt.audience ??= 'demo-api';
    config.capture.sampling = [{ route: 'health', rate: 0.01 }, ...config.capture.sampling];
    logger.info({ auth: demoAuth, api: demoApi }, 'no routes configured: fronting the demo authorization server and API');
  }
  const interceptor = createInterceptor(config, { logger });
  installProcessGuards(logger, interceptor.metrics);
  const { url, opsUrl } = await interceptor.start();
  logger.info({ url, opsUrl }, 'interceptor ready');
  onShutdown(logger, () => interceptor.stop());
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exitCode = 1;
}
