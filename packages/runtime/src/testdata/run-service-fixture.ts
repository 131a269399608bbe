/**
 * A service made with runService whose component does what FIXTURE_* says, for service.test.ts:
 *   FIXTURE_START: ok (default) | slow (start takes FIXTURE_START_MS, default 4 s) | fail | refused | fail-later | create-throws
 *   FIXTURE_STOP_MS: stop() takes this long
 * The component logs each step ("component starting", "component started", "component stopped")
 * so that the test waits on lines, never on time.
 */
import { runService, settingsRefused, AuditError, defineComponent } from '../index.js';

interface FixtureConfig {
  port: number;
  mode: 'a' | 'b';
  names: string[];
  nested: { limit: number };
}

const behaviour = process.env.FIXTURE_START ?? 'ok';
const startMs = Number(process.env.FIXTURE_START_MS ?? 4_000);

await runService<FixtureConfig, { opsUrl: string }>({
  name: 'fixture',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      port: { type: 'integer', minimum: 0, maximum: 65535 },
      mode: { enum: ['a', 'b'] },
      names: { type: 'array', items: { type: 'string' } },
      nested: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1 } } },
    },
  },
  defaults: { port: 0, mode: 'a', names: [], nested: { limit: 10 } },
  env: { AUDIT_FIXTURE_PORT: 'port', AUDIT_FIXTURE_MODE: 'mode', AUDIT_FIXTURE_NAMES: 'names', AUDIT_FIXTURE_LIMIT: 'nested.limit' },
  check: (c) => c.names.filter((n) => n.startsWith('bad')).map((n) => `names: ${JSON.stringify(n)} is not a good name`),
  create: (_config, { logger, onFailure }) => {
    if (behaviour === 'create-throws') throw new AuditError('AUDIT_ERR_FIXTURE', 'the policy file does not parse');
    let started = false;
    let alive: NodeJS.Timeout | undefined; // a real service's sockets keep its process alive; this stands in for them
    return defineComponent({
      start: async () => {
        logger.info('component starting');
        if (behaviour === 'slow') await new Promise((r) => setTimeout(r, startMs));
        if (behaviour === 'fail') throw new AuditError('AUDIT_ERR_FIXTURE', 'the dependency is unreachable', { retriable: true });
        if (behaviour === 'refused')
          throw settingsRefused('the broker refused the SASL credentials: check AUDIT_KAFKA_SASL_USERNAME and AUDIT_KAFKA_SASL_PASSWORD');
        if (behaviour === 'fail-later') setTimeout(() => onFailure(new AuditError('AUDIT_ERR_CONSUMER_CRASHED', 'the consumer stopped for good')), 50);
        started = true;
        alive = setInterval(() => undefined, 1 << 30);
        logger.info('component started');
        return { opsUrl: 'http://127.0.0.1:1' };
      },
      stop: async () => {
        clearInterval(alive);
        if (process.env.FIXTURE_STOP_MS) {
          logger.info('component stopping slowly');
          await new Promise((r) => setTimeout(r, Number(process.env.FIXTURE_STOP_MS)));
        }
        logger.info({ started }, 'component stopped');
      },
    });
  },
});
