/** The sessionizer as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment; exit codes in packages/runtime/README.md. */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { configSchema, defaults, env } from './config.js';
import { createSessionizerService } from './service.js';

await runService({
  name: 'sessionizer',
  configSchema,
  defaults,
  env,
  create: (config, { logger, onFailure }) => createSessionizerService(config, { logger, onFailure }),
  explainStartFailure: (err, config) => explainStartFailure(err, { kafka: config.kafka }),
});
