import { exitOnStartFailure } from '@jwt-audit/kafka';
import { createLogger, exitForRestart, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { defaults, env, schema, type IndexerConfig } from './config.js';
import { createIndexerService } from './service.js';

const logger = createLogger({ name: 'indexer' });
let config: IndexerConfig;
try {
  config = loadConfig({ service: 'indexer', schema, defaults, env });
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'invalid configuration');
  process.exit(2);
}
const service = createIndexerService(config, { logger, onFailure: (err) => exitForRestart(logger, err, () => service.stop()) });
onShutdown(logger, () => service.stop());
// a refused setting (credentials, SASL mechanism, CA) exits 2 naming it; anything else 1
await service.start().catch((err: unknown) => exitOnStartFailure(logger, 'indexer', err, { kafka: config.kafka, elasticsearch: config.elasticsearch }));
