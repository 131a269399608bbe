/** The sessionizer as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment. */
import { exitOnStartFailure } from '@jwt-audit/kafka';
import { createLogger, exitForRestart, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { configSchema, defaults, env, type SessionizerConfig } from './config.js';
import { createSessionizerService } from './service.js';

const logger = createLogger({ name: 'sessionizer' });
try {
  const config = loadConfig<SessionizerConfig>({ service: 'sessionizer', schema: configSchema, defaults, env });
  const service = createSessionizerService(config, { logger, onFailure: (err) => exitForRestart(logger, err, () => service.stop()) });
  // a refused setting (credentials, SASL mechanism, CA) exits 2 naming it; anything else 1
  const { opsUrl } = await service.start().catch((err: unknown) => exitOnStartFailure(logger, 'sessionizer', err, { kafka: config.kafka }));
  logger.info({ opsUrl }, 'sessionizer ready');
  onShutdown(logger, () => service.stop());
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exitCode = 1;
}
