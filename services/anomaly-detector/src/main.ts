/** The anomaly detector as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment; exit codes in packages/runtime/README.md. */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { checkConfig, configSchema, defaults, env } from './config.js';
import { createDetectorService } from './service.js';

await runService({
  name: 'anomaly-detector',
  configSchema,
  defaults,
  env,
  check: checkConfig,
  create: (config, { logger, onFailure }) => createDetectorService(config, { logger, onFailure }),
  explainStartFailure: (err, config) => explainStartFailure(err, { kafka: config.kafka }),
});
