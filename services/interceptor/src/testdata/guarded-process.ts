/**
 * A process with the interceptor's process guards (process-guards.test.ts runs it): an unhandled
 * rejection and an uncaught exception happen, then it reports its metrics and exits 0 by itself.
 */
import { createLogger, createMetrics } from '@jwt-audit/runtime';
import { installProcessGuards } from '../process-guards.js';

const metrics = createMetrics({ defaultMetrics: false });
installProcessGuards(createLogger({ name: 'guarded', level: 'info' }), metrics);
void Promise.reject(new Error('boom-rejection'));
setTimeout(() => {
  throw new Error('boom-exception');
}, 10);
setTimeout(async () => {
  process.stdout.write(`${JSON.stringify({ metrics: await metrics.registry.metrics() })}\n`);
}, 200);
