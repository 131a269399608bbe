import type { Logger } from 'pino';
import type { Component } from './component.js';
import { ConfigError, loadConfig } from './config.js';
import { isSettingsRefused } from './connection-errors.js';
import { createLogger } from './logger.js';
import { RUNTIME_ERRORS } from './errors.js';

/**
 * The exit codes of every service process, one set (the root README's "Running a service" and
 * packages/runtime/README.md list them). Both "a setting to fix" codes are 2: restarting cannot
 * help, and `npm start`, `audit` and the services already said 2 for them; 75 is sysexits.h's
 * EX_TEMPFAIL, which supervisors read as "restart me".
 */
export const EXIT_CODES = {
  /** Stopped cleanly on SIGINT / SIGTERM (also when the signal came during start). */
  stopped: 0,
  /** Could not start for a reason that may pass (a dependency unreachable, a port in use); or a stop that failed, took too long, or was cut by a second signal. */
  failed: 1,
  /** The configuration is invalid: every problem listed in one fatal line. */
  config: 2,
  /** A dependency refused a setting (credentials, SASL mechanism, a CA that does not vouch, plaintext at a TLS listener). */
  settingsRefused: 2,
  /** The service ran and then failed for good (a consumer stopped): the supervisor restarts it. */
  restart: 75,
} as const;

export interface ServiceContext {
  /** The process's root logger. */
  logger: Logger;
  /** Call when the running service failed for good: it is stopped and the process exits 75. */
  onFailure: (err: { code?: string; message: string }) => void;
}

export interface RunServiceOptions<C, Started> {
  /** The service name: the logger's name, the config error's and every fatal line's subject. */
  name: string;
  /** JSON Schema of the whole config (additionalProperties: false). */
  configSchema: object;
  defaults: C;
  /** Environment variable -> dotted config path. */
  env: Record<string, string>;
  /** Checks the schema cannot express; every problem is reported together with the schema's. */
  check?: (config: C) => string[];
  /** Makes the service (no I/O: that is start()'s); a throw here is a configuration error. */
  create: (config: C, ctx: ServiceContext) => Component<Started>;
  /**
   * Why start() failed in terms of the settings (e.g. @jwt-audit/kafka's explainStartFailure):
   * the error to report, a SETTINGS_REFUSED one when a dependency refused a setting.
   */
  explainStartFailure?: (err: unknown, config: C) => Promise<unknown>;
  /** Fields of the "<name> ready" line, from what start() resolved to; default: its fields. */
  ready?: (started: Started, config: C) => Record<string, unknown>;
  /** How long a clean stop may take before the process exits 1 (default 30 s). */
  stopTimeoutMs?: number;
  logger?: Logger;
  argv?: string[];
  environment?: NodeJS.ProcessEnv;
}

const FAILED_START_STOP_MS = 10_000; // 10 s: what a failed start left half-started gets to stop

/**
 * A service as a process: load and validate the config (every problem at once, schema and
 * semantic checks together), create the service, install the SIGINT / SIGTERM handling, start,
 * and end with one of EXIT_CODES. The signal handling is in place before start() is called: a
 * SIGTERM during a slow start (the interceptor waits up to 15 s for the revocation topic) stops
 * the service cleanly once start settles (Component's contract) and exits 0.
 */
export async function runService<C, Started>(opts: RunServiceOptions<C, Started>): Promise<void> {
  const logger = opts.logger ?? createLogger({ name: opts.name });
  const exit = (code: number): void => {
    process.exit(code);
  };

  let config: C;
  try {
    config = loadConfig<C>({
      service: opts.name,
      schema: opts.configSchema,
      defaults: opts.defaults,
      env: opts.env,
      ...(opts.check ? { check: opts.check } : {}),
      ...(opts.argv ? { argv: opts.argv } : {}),
      ...(opts.environment ? { environment: opts.environment } : {}),
    });
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
    logger.fatal({ err: { code: RUNTIME_ERRORS.AUDIT_ERR_CONFIG.code }, problems, exitCode: EXIT_CODES.config }, (err as Error).message);
    return exit(EXIT_CODES.config);
  }

  let stopping = false;
  let service: Component<Started> | undefined;
  const ctx: ServiceContext = {
    logger,
    onFailure: (err) => {
      if (stopping) return;
      stopping = true;
      logger.fatal(
        { err: { code: err.code, message: err.message }, exitCode: EXIT_CODES.restart },
        `${opts.name} failed for good: exiting so that the supervisor restarts the process`,
      );
      boundedStop(FAILED_START_STOP_MS).then(() => exit(EXIT_CODES.restart));
    },
  };
  const boundedStop = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      timer.unref();
      (service?.stop() ?? Promise.resolve()).then(
        () => (clearTimeout(timer), resolve(true)),
        (err: unknown) => {
          clearTimeout(timer);
          logger.error({ err }, 'stop failed');
          resolve(false);
        },
      );
    });

  try {
    service = opts.create(config, ctx);
  } catch (err) {
    logger.fatal(
      { err: { code: (err as { code?: string }).code, message: (err as Error).message }, exitCode: EXIT_CODES.config },
      `invalid configuration for ${opts.name}: ${(err as Error).message}`,
    );
    return exit(EXIT_CODES.config);
  }

  const stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean stop');
      return exit(EXIT_CODES.failed);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: stopTimeoutMs }, 'clean stop took too long: exiting');
      exit(EXIT_CODES.failed);
    }, stopTimeoutMs);
    timer.unref();
    service!.stop().then(
      () => {
        logger.info('stopped');
        exit(EXIT_CODES.stopped);
      },
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        exit(EXIT_CODES.failed);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let started: Started;
  try {
    started = await service.start();
  } catch (err) {
    if (stopping) return; // the signal (or onFailure) being handled owns the exit
    stopping = true;
    const explained = opts.explainStartFailure ? await opts.explainStartFailure(err, config).catch(() => undefined) : undefined;
    const reported = (explained ?? err) as { code?: string; message?: string };
    const exitCode = isSettingsRefused(explained ?? err) ? EXIT_CODES.settingsRefused : EXIT_CODES.failed;
    logger.fatal({ err: { code: reported.code, message: reported.message }, exitCode }, `${opts.name} cannot start: ${reported.message ?? String(err)}`);
    await boundedStop(FAILED_START_STOP_MS);
    return exit(exitCode);
  }
  if (stopping) return;
  const fields = opts.ready ? opts.ready(started, config) : started !== null && typeof started === 'object' ? { ...started } : {};
  logger.info(fields, `${opts.name} ready`);
}
