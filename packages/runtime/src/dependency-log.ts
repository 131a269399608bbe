import pino, { type Logger } from 'pino';

/**
 * What an operator reads while a dependency (Kafka, Elasticsearch) is down (issue #25 item 2):
 * one line when it goes down, then at most one line per interval with the count of failed
 * attempts since the previous line, and one line when it comes back. Every other line about the
 * same outage (a client library's connection errors, a consumer crashing and restarting because
 * of it, a retry backing off) is counted here and written at debug only. Before this, one
 * interceptor wrote 581 error lines, with stacks, in 35 s of broker downtime.
 *
 *   warn  kafka unreachable: <reason>                                          (once, at the first failure)
 *   warn  kafka still unreachable after 10 s: 57 failed attempts since the last line; last: <reason>
 *                                                                              (at most once per interval; the
 *                                                                               interval doubles up to maxIntervalMs)
 *   info  kafka reachable again after 31 s (214 failed attempts)               (once, at the first success)
 *
 * One state per dependency and per log destination: every component of a process that talks to
 * the same dependency (a service's consumers, producer, admin clients, kafkajs' own log lines)
 * shares it, because they all log through child loggers of the process's one root logger, which
 * share its destination stream. Two services started in one process with loggers of their own
 * (the tests) keep separate states.
 */
export interface DependencyLog {
  readonly name: string;
  readonly down: boolean;
  /** A failed attempt to reach the dependency. */
  failed(reason: unknown, fields?: Record<string, unknown>): void;
  /** A successful exchange with the dependency (cheap when it was up: one comparison). */
  ok(): void;
}

export interface DependencyLogOptions {
  /** The first repeat line waits this long; each next one twice as long as the previous, up to maxIntervalMs. */
  intervalMs?: number; // 10 s
  maxIntervalMs?: number; // 5 min
  /**
   * Count and write at debug only: another part of the process reports this dependency (the
   * interceptor's producer thread, whose failures its publisher reports on the main thread).
   */
  quiet?: boolean;
  now?: () => number;
}

export const DEPENDENCY_LOG_INTERVAL_MS = 10_000; // 10 s
export const DEPENDENCY_LOG_MAX_INTERVAL_MS = 300_000; // 5 min
const MAX_REASON_CHARS = 300;

/** The message of anything thrown or logged, one line, bounded, never a stack. */
export function reasonOf(reason: unknown): string {
  let text: string;
  if (reason instanceof Error) text = reason.message;
  else if (typeof reason === 'string') text = reason;
  else if (reason && typeof reason === 'object' && typeof (reason as { message?: unknown }).message === 'string')
    text = (reason as { message: string }).message;
  else text = String(reason);
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS)}...` : line;
}

const seconds = (ms: number): string => `${Math.max(0, Math.round(ms / 1000))} s`;

const states = new WeakMap<object, Map<string, DependencyLog>>();

/** The destination stream of a pino logger (shared by a root and all its children). */
function destinationOf(logger: Logger): object {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  return stream !== null && typeof stream === 'object' ? stream : logger;
}

/**
 * The state of `name` for this logger's destination, created on first use (the first caller's
 * logger, bound with `dependency: name`, writes its lines). Options apply when it is created.
 */
export function dependencyLog(logger: Logger, name: string, opts: DependencyLogOptions = {}): DependencyLog {
  const key = destinationOf(logger);
  let byName = states.get(key);
  if (!byName) states.set(key, (byName = new Map()));
  let state = byName.get(name);
  if (!state) byName.set(name, (state = createDependencyLog(logger.child({ dependency: name }), name, opts)));
  return state;
}

/** A state of its own (not shared): dependencyLog() is what components use. */
export function createDependencyLog(log: Logger, name: string, opts: DependencyLogOptions = {}): DependencyLog {
  const now = opts.now ?? Date.now;
  const firstInterval = opts.intervalMs ?? DEPENDENCY_LOG_INTERVAL_MS;
  const maxInterval = Math.max(firstInterval, opts.maxIntervalMs ?? DEPENDENCY_LOG_MAX_INTERVAL_MS);
  const quiet = opts.quiet === true;
  let down = false;
  let since = 0; // when it went down
  let lastLine = 0; // when the last down / still-down line was written
  let interval = firstInterval;
  let total = 0; // failed attempts in this outage
  let sinceLine = 0; // failed attempts since the last line

  return {
    name,
    get down() {
      return down;
    },
    failed(reason, fields) {
      const t = now();
      const why = reasonOf(reason);
      total++;
      sinceLine++;
      if (!down) {
        down = true;
        since = t;
        lastLine = t;
        interval = firstInterval;
        total = 1;
        sinceLine = 0;
        if (quiet) log.debug({ ...fields, reason: why }, `${name} unreachable: ${why}`);
        else log.warn({ ...fields, reason: why }, `${name} unreachable: ${why}`);
        return;
      }
      if (log.isLevelEnabled('debug')) log.debug({ ...fields, reason: why, failures: total }, `${name} still unreachable: ${why}`);
      if (t - lastLine < interval) return;
      const line = { reason: why, failures: sinceLine, downMs: t - since };
      const msg = `${name} still unreachable after ${seconds(t - since)}: ${sinceLine} failed attempts since the last line; last: ${why}`;
      if (quiet) log.debug(line, msg);
      else log.warn(line, msg);
      lastLine = t;
      sinceLine = 0;
      interval = Math.min(maxInterval, interval * 2);
    },
    ok() {
      if (!down) return;
      down = false;
      const t = now();
      const line = { failures: total, downMs: t - since };
      const msg = `${name} reachable again after ${seconds(t - since)} (${total} failed attempts)`;
      if (quiet) log.debug(line, msg);
      else log.info(line, msg);
    },
  };
}

/**
 * Rate limit for lines that are not about a dependency being down (kafkajs' other warnings and
 * errors): at most one line per key per interval. `admit(key)` returns undefined to drop the line,
 * or the number of lines of that key dropped since the last one admitted (0 for the first).
 */
export function createLogThrottle(intervalMs = DEPENDENCY_LOG_INTERVAL_MS, opts: { now?: () => number; maxKeys?: number } = {}) {
  const now = opts.now ?? Date.now;
  const maxKeys = opts.maxKeys ?? 1_000;
  const seen = new Map<string, { at: number; dropped: number }>();
  return {
    admit(key: string): number | undefined {
      const t = now();
      const s = seen.get(key);
      if (s && t - s.at < intervalMs) {
        s.dropped++;
        return undefined;
      }
      // bounded: keys come from message templates, but a client library may put anything there
      if (!s && seen.size >= maxKeys) seen.clear();
      const dropped = s?.dropped ?? 0;
      seen.set(key, { at: t, dropped: 0 });
      return dropped;
    },
  };
}
