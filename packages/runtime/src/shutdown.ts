import type { Logger } from 'pino';
import { EXIT_CODES } from './service.js';

/**
 * For a process that is not a runService service (the demo side of `npm start`).
 * Stops the service once on SIGINT / SIGTERM (source stops, transforms drain, sinks flush,
 * offsets commit: the order is the service's stop()), then exits. A second signal, or a stop
 * that takes longer than `timeoutMs`, exits at once with code 1.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>, timeoutMs = 30_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean stop');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'clean stop took too long: exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** The exit code of a service whose consumer stopped for good (EX_TEMPFAIL): EXIT_CODES.restart. */
export const EXIT_TEMPFAIL = EXIT_CODES.restart;
