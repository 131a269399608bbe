/** The console as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment; exit codes in packages/runtime/README.md. */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { configProblems, configSchema, defaults, env } from './config.js';
import { createConsoleService } from './service.js';

await runService({
  name: 'console',
  configSchema,
  defaults,
  env,
  check: configProblems,
  create: (config, { logger }) => createConsoleService(config, { logger }),
  explainStartFailure: (err, config) => explainStartFailure(err, { kafka: config.kafka, elasticsearch: config.elasticsearch }),
  ready: ({ url, opsUrl }, config) => ({ url, opsUrl, demoLogin: config.auth.demoLogin, jwt: config.auth.jwksUrl !== '' }),
});
