/**
 * The interceptor as a process: config file (--config or AUDIT_CONFIG) + AUDIT_* environment,
 * then serve until SIGINT/SIGTERM. (`npm start` gives it the demo's routes through
 * AUDIT_INTERCEPTOR_ROUTES: services/demo/src/interceptor-routes.ts.)
 */
import { createLogger, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { configSchema, defaults, env, type InterceptorConfig } from './config.js';
import { installProcessGuards } from './process-guards.js';
import { createInterceptor } from './service.js';

const logger = createLogger({ name: 'interceptor' });
try {
  const config = loadConfig<InterceptorConfig>({ service: 'interceptor', schema: configSchema, defaults, env });
  const interceptor = createInterceptor(config, { logger });
  installProcessGuards(logger, interceptor.metrics);
  const { url, opsUrl } = await interceptor.start();
  logger.info({ url, opsUrl }, 'interceptor ready');
  onShutdown(logger, () => interceptor.stop());
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exitCode = 1;
}
