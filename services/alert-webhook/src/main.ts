/** The alert webhook forwarder as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment. */
import { exitOnStartFailure } from '@jwt-audit/kafka';
import { createLogger, exitForRestart, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { configSchema, defaults, env, type AlertWebhookConfig } from './config.js';
import { createAlertWebhookService } from './service.js';

const logger = createLogger({ name: 'alert-webhook' });
try {
  const config = loadConfig<AlertWebhookConfig>({ service: 'alert-webhook', schema: configSchema, defaults, env });
  const service = createAlertWebhookService(config, { logger, onFailure: (err) => exitForRestart(logger, err, () => service.stop()) });
  // a refused setting (credentials, SASL mechanism, CA) exits 2 naming it; anything else 1
  const { opsUrl } = await service.start().catch((err: unknown) => exitOnStartFailure(logger, 'alert-webhook', err, { kafka: config.kafka }));
  logger.info({ opsUrl }, 'alert webhook ready');
  onShutdown(logger, () => service.stop());
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exitCode = 1;
}
