/** The alert webhook forwarder as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment; exit codes in packages/runtime/README.md. */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { configSchema, defaults, env } from './config.js';
import { createAlertWebhookService } from './service.js';

await runService({
  name: 'alert-webhook',
  configSchema,
  defaults,
  env,
  create: (config, { logger, onFailure }) => createAlertWebhookService(config, { logger, onFailure }),
  explainStartFailure: (err, config) => explainStartFailure(err, { kafka: config.kafka }),
});
