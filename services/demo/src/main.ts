import { createLogger, onShutdown } from '@jwt-audit/runtime';
import { startAuthServer } from './auth-server.js';
import { startUpstream } from './upstream.js';
import { startWebhookReceiver } from './webhook-receiver.js';

/**
 * The demo side of `npm start`: authorization server, upstream API and alert webhook receiver.
 * Ports: AUDIT_DEMO_AUTH_PORT (9000), AUDIT_DEMO_UPSTREAM_PORT (9100), AUDIT_DEMO_WEBHOOK_PORT (9300).
 * AUDIT_DEMO_KEY_FILE keeps the IdP's signing keys across restarts (npm start puts it in the data directory).
 * AUDIT_DEMO_ISSUER sets the issuer (the URL clients reach the token endpoint at, through the interceptor).
 */
const env = process.env;
const logger = createLogger({ name: 'demo' });
const host = env.AUDIT_DEMO_HOST ?? '127.0.0.1';
const auth = await startAuthServer({
  port: Number(env.AUDIT_DEMO_AUTH_PORT ?? 9000),
  host,
  ...(env.AUDIT_DEMO_ISSUER ? { issuer: env.AUDIT_DEMO_ISSUER } : {}),
  ...(env.AUDIT_DEMO_KEY_FILE ? { keyFile: env.AUDIT_DEMO_KEY_FILE } : {}),
  logger,
});
const upstream = await startUpstream({ port: Number(env.AUDIT_DEMO_UPSTREAM_PORT ?? 9100), host, logger });
const webhook = await startWebhookReceiver({ port: Number(env.AUDIT_DEMO_WEBHOOK_PORT ?? 9300), host, logger, ...(env.AUDIT_DEMO_WEBHOOK_SECRET ? { secret: env.AUDIT_DEMO_WEBHOOK_SECRET } : {}) });
logger.info({ auth: auth.url, jwks: auth.jwksUrl, upstream: upstream.url, webhook: webhook.url }, 'demo ready');
onShutdown(logger, async () => {
  await Promise.all([auth.close(), upstream.close(), webhook.close()]);
});
