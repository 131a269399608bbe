import { RUNTIME_ERRORS } from './errors.js';

/**
 * The contract every service and every long-lived part of one keeps (as OpenTelemetry Collector
 * components do): `start()` and `stop()` are idempotent (a second call shares the first's
 * promise), `stop()` is safe before `start()` (it starts nothing and resolves), and a `stop()`
 * during a `start()` waits for the start to settle, then stops what it started, so that a signal
 * in the middle of a slow start still ends in a clean stop.
 */
export interface Component<Started = unknown> {
  start(): Promise<Started>;
  stop(): Promise<void>;
}

/** Started after stop(): a component is not restarted; make a new one. */
export const STOPPED = RUNTIME_ERRORS.AUDIT_ERR_STOPPED.code;

/**
 * A Component from a service's two halves: `start` runs at most once, `stop` runs at most once
 * and only if `start` ran (a failed start still stops what it left half-started).
 */
export function defineComponent<Started>(parts: { start: () => Promise<Started>; stop: () => Promise<void> }): Component<Started> {
  let started: Promise<Started> | undefined;
  let stopped: Promise<void> | undefined;
  return {
    start() {
      if (stopped && !started) return Promise.reject(RUNTIME_ERRORS.AUDIT_ERR_STOPPED.create());
      return (started ??= Promise.resolve().then(parts.start));
    },
    stop() {
      return (stopped ??= (async () => {
        if (!started) return;
        await started.catch(() => undefined);
        await parts.stop();
      })());
    },
  };
}
