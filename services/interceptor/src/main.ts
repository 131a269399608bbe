/**
 * The interceptor as a process: config file (--config or AUDIT_CONFIG) + AUDIT_* environment,
 * then serve until SIGINT/SIGTERM; exit codes in packages/runtime/README.md. (`npm start` gives
 * it the demo's routes through AUDIT_INTERCEPTOR_ROUTES: services/demo/src/interceptor-routes.ts.)
 */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { serviceConfig } from './config.js';
import { installProcessGuards } from './process-guards.js';
import { createInterceptor } from './service.js';

await runService({
  ...serviceConfig,
  create: (config, { logger }) => {
    const interceptor = createInterceptor(config, { logger });
    installProcessGuards(logger, interceptor.metrics);
    return interceptor;
  },
  explainStartFailure,
});
