/** The console as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment. */
import { exitOnStartFailure } from '@jwt-audit/kafka';
import { createLogger, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { configSchema, defaults, env, type ConsoleConfig } from './config.js';
import { createConsoleService } from './service.js';

const logger = createLogger({ name: 'console' });
try {
  const config = loadConfig<ConsoleConfig>({ service: 'console', schema: configSchema, defaults, env });
  const service = createConsoleService(config, { logger });
  const { url, opsUrl } = await service.start().catch((err: unknown) => exitOnStartFailure(logger, 'console', err, { kafka: config.kafka }));
  logger.info({ url, opsUrl, demoLogin: config.auth.demoLogin, jwt: config.auth.jwksUrl !== '' }, `console ready at ${url}`);
  onShutdown(logger, () => service.stop());
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exitCode = 1;
}
