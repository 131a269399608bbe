export { createAlertWebhookService, type AlertWebhookService, type AlertWebhookDeps } from './service.js';
export { configSchema, defaults, env, type AlertWebhookConfig } from './config.js';
export { sign, verify, SIGNATURE_HEADER, ALERT_ID_HEADER } from './signature.js';
export { classifyResponse, classifyError } from './retry.js';
