import { exitOnStartFailure } from '@jwt-audit/kafka';
import { createLogger, exitForRestart, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { defaults, env, schema, type MaskerConfig } from './config.js';
import { createMaskerService } from './service.js';

const logger = createLogger({ name: 'masker' });
let config: MaskerConfig;
try {
  config = loadConfig({ service: 'masker', schema, defaults, env });
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'invalid configuration');
  process.exit(2);
}
let service: ReturnType<typeof createMaskerService>;
try {
  service = createMaskerService(config, { logger, onFailure: (err) => exitForRestart(logger, err, () => service.stop()) }); // reads and validates the policy: fail before consuming
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'invalid configuration');
  process.exit(2);
}
onShutdown(logger, () => service.stop());
// a refused setting (credentials, SASL mechanism, CA) exits 2 naming it; anything else 1
await service.start().catch((err: unknown) => exitOnStartFailure(logger, 'masker', err, { kafka: config.kafka }));
