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
await service.start().catch((err: unknown) => {
  logger.fatal({ err: (err as Error).message }, 'archiver failed to start');
  process.exit(1);
});
