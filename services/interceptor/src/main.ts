/**
 * The interceptor as a process: config file (--config or AUDIT_CONFIG) + AUDIT_* environment,
 * then serve until SIGINT/SIGTERM. (`npm start` gives it the demo's routes through
 * AUDIT_INTERCEPTOR_ROUTES: services/demo/src/interceptor-routes.ts.)
 */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { checkConfig, configSchema, defaults, env } from './config.js';
import { installProcessGuards } from './process-guards.js';
import { createInterceptor } from './service.js';

await runService({
  name: 'interceptor',
  configSchema,
  defaults,
  env,
  check: (config) => checkConfig(config),
  create: (config, { logger }) => {
    const interceptor = createInterceptor(config, { logger });
    installProcessGuards(logger, interceptor.metrics);
    return interceptor;
  },
  explainStartFailure: (err, config) => explainStartFailure(err, { kafka: config.kafka }),
});
