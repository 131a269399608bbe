import type { Logger } from 'pino';

/**
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

/**
 * The exit code of a service whose consumer stopped for good (EX_TEMPFAIL, sysexits.h: "try
 * again later"): the process must not stay alive without a consumer, and a supervisor (npm start's,
 * systemd's Restart=on-failure, Kubernetes) restarts it.
 */
export const EXIT_TEMPFAIL = 75;

/** Logs why, stops what can still be stopped (bounded by `timeoutMs`), and exits with EXIT_TEMPFAIL. */
export function exitForRestart(logger: Logger, err: { code?: string; message: string }, stop?: () => Promise<void>, timeoutMs = 10_000): void {
  logger.fatal({ err: { code: err.code, message: err.message }, exitCode: EXIT_TEMPFAIL }, 'consumer stopped for good: exiting so that the supervisor restarts the process');
  const exit = () => process.exit(EXIT_TEMPFAIL);
  setTimeout(exit, timeoutMs).unref();
  void (stop ?? (() => Promise.resolve()))().catch(() => undefined).then(exit);
}
