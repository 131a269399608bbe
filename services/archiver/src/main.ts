/** The archiver as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment; exit codes in packages/runtime/README.md. */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { defaults, env, schema } from './config.js';
import { createArchiverService } from './service.js';

await runService({
  name: 'archiver',
  configSchema: schema,
  defaults,
  env,
  create: (config, { logger, onFailure }) => createArchiverService(config, { logger, onFailure }),
  explainStartFailure: (err, config) => explainStartFailure(err, { kafka: config.kafka }),
});
