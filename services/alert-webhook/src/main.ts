/** The alert webhook forwarder as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment. */
import { createLogger, exitForRestart, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { configSchema, defaults, env, type AlertWebhookConfig } from './config.js';
import { createAlertWebhookService } from './service.js';

const logger = createLogger({ name: 'alert-webhook' });
try {
  const config = loadConfig<AlertWebhookConfig>({ service: 'alert-webhook', schema: configSchema, defaults, env });
  const service = createAlertWebhookService(config, { logger, onFailure: (err) => exitForRestart(logger, err, () => service.stop()) });
  const { opsUrl } = await service.start();
  logger.info({ opsUrl }, 'alert webhook ready');
  onShutdown(logger, () => service.stop());
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exitCode = 1;
}
