/** The anomaly detector as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment. */
import { createLogger, exitForRestart, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { configSchema, defaults, env, type DetectorServiceConfig } from './config.js';
import { createDetectorService } from './service.js';

const logger = createLogger({ name: 'anomaly-detector' });
try {
  const config = loadConfig<DetectorServiceConfig>({ service: 'anomaly-detector', schema: configSchema, defaults, env });
  const service = createDetectorService(config, { logger, onFailure: (err) => exitForRestart(logger, err, () => service.stop()) });
  const { opsUrl } = await service.start();
  logger.info({ opsUrl }, 'anomaly detector ready');
  onShutdown(logger, () => service.stop());
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exitCode = 1;
}
