import type { Logger, Metrics } from '@jwt-audit/runtime';

/**
 * The last line of defence of the interceptor process. Every exchange already ends its own
 * failures (proxy.ts `fail`); what reaches these handlers is a bug outside any exchange (a timer,
 * an event handler of a library). Node's default is to exit, which would cut every exchange in
 * flight and drop the events still queued for Kafka; a proxy keeps serving instead, and makes the
 * bug loud: an error log line with the stack and a counter to alert on
 * (`audit_interceptor_process_errors_total{kind}`).
 *
 * Returns a function that removes the handlers (for tests and embedders that own the process).
 */
export function installProcessGuards(logger: Logger, metrics: Metrics): () => void {
  const errors = metrics.counter('audit_interceptor_process_errors_total', 'Errors no exchange caught: unhandled promise rejections and uncaught exceptions', [
    'kind',
  ]);
  const log = logger.child({ component: 'process' });
  const onRejection = (reason: unknown) => {
    errors.inc({ kind: 'unhandled_rejection' });
    log.error({ err: reason }, 'unhandled promise rejection (kept serving)');
  };
  const onException = (err: Error, origin: string) => {
    errors.inc({ kind: 'uncaught_exception' });
    log.error({ err, origin }, 'uncaught exception (kept serving)');
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
