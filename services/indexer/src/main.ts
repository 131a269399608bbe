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
await service.start().catch((err: unknown) => {
  logger.fatal({ err: (err as Error).message }, 'indexer failed to start');
  process.exit(1);
});
