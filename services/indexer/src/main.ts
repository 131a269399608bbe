/** The indexer as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment; exit codes in packages/runtime/README.md. */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { defaults, env, schema } from './config.js';
import { createIndexerService } from './service.js';

await runService({
  name: 'indexer',
  configSchema: schema,
  defaults,
  env,
  create: (config, { logger, onFailure }) => createIndexerService(config, { logger, onFailure }),
  explainStartFailure: (err, config) => explainStartFailure(err, { kafka: config.kafka, elasticsearch: config.elasticsearch }),
});
