/**
 * The masker in a process of its own, for the crash benchmark and fault test (crash-harness.ts):
 *   masker-child.ts <brokers> <exactlyOnce: true|false> <transactionalId>
 * prints "ready" on stdout once consuming; SIGTERM stops it gracefully, SIGKILL is the crash.
 */
import { Writable } from 'node:stream';
import { createLogger } from '@jwt-audit/runtime';
import { createMaskerService, maskerDefaults } from '../src/index.js';

const [brokers, exactlyOnce, transactionalId] = process.argv.slice(2);
if (!brokers || !transactionalId || (exactlyOnce !== 'true' && exactlyOnce !== 'false')) {
  process.stderr.write('usage: masker-child.ts <brokers> <true|false> <transactionalId>\n');
  process.exit(2);
}
// silent unless asked (CRASH_CHILD_LOG_LEVEL=warn): stdout is the harness's channel
const level = process.env.CRASH_CHILD_LOG_LEVEL ?? 'silent';
const logger = createLogger({ name: 'masker-child', level, destination: level === 'silent' ? new Writable({ write: (_c, _e, cb) => cb() }) : process.stderr });
const svc = createMaskerService(
  {
    ...maskerDefaults,
    kafka: { brokers: brokers.split(','), clientId: 'crash-masker', exactlyOnce: exactlyOnce === 'true', transactionalId },
    ops: {},
    groupId: 'crash-masker',
    hmac: { keyId: 'crash', key: 'crash-bench-masking-key-0123456789' },
  },
  { logger, sessionTimeoutMs: 6_000 },
);
process.once('SIGTERM', () => {
  void svc.stop().then(() => process.exit(0));
});
await svc.start();
process.stdout.write('ready\n');
