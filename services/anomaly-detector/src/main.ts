/** The anomaly detector as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment. */
import { exitOnStartFailure } from '@jwt-audit/kafka';
import { createLogger, exitForRestart, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { configSchema, defaults, env, type DetectorServiceConfig } from './config.js';
import { createDetectorService } from './service.js';

const logger = createLogger({ name: 'anomaly-detector' });
try {
  const config = loadConfig<DetectorServiceConfig>({ service: 'anomaly-detector', schema: configSchema, defaults, env });
  const service = createDetectorService(config, { logger, onFailure: (err) => exitForRestart(logger, err, () => service.stop()) });
  // a refused setting (credentials, SASL mechanism, CA) exits 2 naming it; anything else 1
  const { opsUrl } = await service.start().catch((err: unknown) => exitOnStartFailure(logger, 'anomaly-detector', err, { kafka: config.kafka }));
  logger.info({ opsUrl }, 'anomaly detector ready');
  onShutdown(logger, () => service.stop());
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exitCode = 1;
}
