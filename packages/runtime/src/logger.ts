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
  let root: Logger | undefined;
  const options: LoggerOptions = {
    name: config.name,
    level,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    // A stack is for whoever debugs the code, not for the operator reading the log: at info a
    // logged error is its type and message (issue #25: outages logged hundreds of stacks).
    serializers: { err: (e: unknown) => withoutStack(pino.stdSerializers.err(e as Error), root) },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (config.destination) root = pino(options, config.destination);
  else if (pretty) root = pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  else root = pino(options);
  return root;
}

function withoutStack(serialized: unknown, root: Logger | undefined): unknown {
  if (root?.isLevelEnabled('debug') || serialized === null || typeof serialized !== 'object' || !('stack' in serialized)) return serialized;
  const { stack: _stack, ...rest } = serialized as Record<string, unknown>;
  return rest;
}
