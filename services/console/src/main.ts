/** The console as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment; exit codes in packages/runtime/README.md. */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { serviceConfig } from './config.js';
import { createConsoleService } from './service.js';

await runService({
  ...serviceConfig,
  create: createConsoleService,
  explainStartFailure,
  ready: ({ url, opsUrl }, config) => ({ url, opsUrl, demoLogin: config.auth.demoLogin, jwt: config.auth.jwksUrl !== '' }),
});
