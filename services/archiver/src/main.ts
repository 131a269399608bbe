import { exitOnStartFailure } from '@jwt-audit/kafka';
import { createLogger, exitForRestart, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { defaults, env, schema, type ArchiverConfig } from './config.js';
import { createArchiverService } from './service.js';

const logger = createLogger({ name: 'archiver' });
let config: ArchiverConfig;
try {
  config = loadConfig({ service: 'archiver', schema, defaults, env });
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'invalid configuration');
  process.exit(2);
}
const service = createArchiverService(config, { logger, onFailure: (err) => exitForRestart(logger, err, () => service.stop()) });
onShutdown(logger, () => service.stop());
// a refused setting (credentials, SASL mechanism, CA) exits 2 naming it; anything else 1
await service.start().catch((err: unknown) => exitOnStartFailure(logger, 'archiver', err, { kafka: config.kafka }));
