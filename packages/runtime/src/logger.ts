import pino, { type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino censors in every log line: a second line of defence behind the rule that no secret
 * or raw token is ever logged (the first is not passing them to the logger at all).
 */
export const REDACT_PATHS: readonly string[] = [
  'authorization',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'password',
  'secret',
  'apiKey',
  'cookie',
  '*.authorization',
  '*.Authorization',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.idToken',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.cookie',
  '*.Cookie',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export interface LoggerConfig {
  /** Component name, bound as `name` on every line. */
  name: string;
  /** pino level; `AUDIT_LOG_LEVEL` overrides. */
  level?: string;
  /** Human-readable output through pino-pretty; only on request (`AUDIT_LOG_PRETTY=1`). */
  pretty?: boolean;
  /** Where to write (tests capture lines here); stdout by default. */
  destination?: DestinationStream;
}

/** The one root logger of a process. Components take `logger.child({ component })`. */
export function createLogger(config: LoggerConfig): Logger {
  const env = process.env;
  const level = env.AUDIT_LOG_LEVEL ?? config.level ?? 'info';
  const pretty = config.pretty ?? (env.AUDIT_LOG_PRETTY === '1' || env.AUDIT_LOG_PRETTY === 'true');
  const options: LoggerOptions = {
    name: config.name,
    level,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (config.destination) return pino(options, config.destination);
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(options);
}
