import { exitOnStartFailure } from '@jwt-audit/kafka';
import { createLogger, exitForRestart, loadConfig, onShutdown } from '@jwt-audit/runtime';
import { defaults, env, schema, type EnricherConfig } from './config.js';
import { createEnricherService } from './service.js';

const logger = createLogger({ name: 'enricher' });
let config: EnricherConfig;
try {
  config = loadConfig({ service: 'enricher', schema, defaults, env });
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'invalid configuration');
  process.exit(2);
}
let service: ReturnType<typeof createEnricherService>;
try {
  service = createEnricherService(config, { logger, onFailure: (err) => exitForRestart(logger, err, () => service.stop()) }); // reads and validates the policy: fail before consuming
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'invalid configuration');
  process.exit(2);
}
onShutdown(logger, () => service.stop());
// a refused setting (credentials, SASL mechanism, CA) exits 2 naming it; anything else 1
await service.start().catch((err: unknown) => exitOnStartFailure(logger, 'enricher', err, { kafka: config.kafka }));
