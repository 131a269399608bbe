/** The masker as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment; exit codes in packages/runtime/README.md. */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { checkConfig, defaults, env, schema } from './config.js';
import { createMaskerService } from './service.js';

await runService({
  name: 'masker',
  configSchema: schema,
  defaults,
  env,
  check: checkConfig,
  create: (config, { logger, onFailure }) => createMaskerService(config, { logger, onFailure }),
  explainStartFailure: (err, config) => explainStartFailure(err, { kafka: config.kafka }),
});
