import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import {
  ConfigError,
  ES_ENV,
  esConfigSchema,
  KAFKA_ENV,
  kafkaConfigSchema,
  kafkaTlsOption,
  loadConfig,
  esClientOptions,
  type EsConnectionConfig,
  type KafkaConnectionConfig,
} from '@jwt-audit/runtime';
import type { StartSettings } from './components.js';

/**
 * The connection settings every service will read (AUDIT_KAFKA_* / AUDIT_ES_*), loaded by the
 * services' own loader now, so a wrong one is named before 10 processes start and each reports it.
 * The embedded parts need none, but a setting given is checked all the same.
 */
function connection<T>(
  key: 'kafka' | 'elasticsearch',
  schema: object,
  env: Record<string, string>,
  defaults: T,
  environment: NodeJS.ProcessEnv,
  problems: string[],
): T {
  try {
    const cfg = loadConfig<Record<string, T>>({
      service: 'npm start',
      schema: { type: 'object', additionalProperties: false, properties: { [key]: schema } },
      defaults: { [key]: defaults },
      env,
      environment,
      argv: [],
    });
    // the PEM files are read as the services will read them (an unreadable one is named)
    if (key === 'kafka') kafkaTlsOption(cfg[key] as KafkaConnectionConfig, 'npm start');
    else esClientOptions(cfg[key] as EsConnectionConfig, 'npm start');
    return cfg[key]!;
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems);
    else throw err;
    return defaults;
  }
}

/**
 * `npm start`'s own settings, read from the environment and checked before anything starts:
 * every problem at once, each naming its variable, so a typo costs a second rather than a
 * 30-second start that fails somewhere inside a service.
 */

const PORTS = {
  AUDIT_KAFKA_PORT: ['kafkaPort', 9092],
  AUDIT_ES_PORT: ['esPort', 9200],
  AUDIT_INTERCEPTOR_PORT: ['interceptorPort', 8080],
  AUDIT_DEMO_AUTH_PORT: ['authPort', 9000],
  AUDIT_DEMO_UPSTREAM_PORT: ['upstreamPort', 9100],
  AUDIT_DEMO_WEBHOOK_PORT: ['webhookPort', 9300],
  AUDIT_CONSOLE_PORT: ['consolePort', 9400],
  AUDIT_OPS_BASE_PORT: ['opsBasePort', 9464],
} as const;

/** The services' /metrics ports, one per service from AUDIT_OPS_BASE_PORT (see components.ts). */
export const OPS_PORTS = 8;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function readStartSettings(root: string, env: NodeJS.ProcessEnv): { settings: StartSettings; problems: string[] } {
  const problems: string[] = [];
  const port = (variable: keyof typeof PORTS): number => {
    const raw = env[variable];
    if (raw === undefined || raw === '') return PORTS[variable][1];
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || n < 1 || n > 65535) {
      problems.push(`${variable}: expected a port 1..65535, got ${JSON.stringify(raw)}`);
      return PORTS[variable][1];
    }
    return n;
  };
  const ports = Object.fromEntries(Object.entries(PORTS).map(([variable, [key]]) => [key, port(variable as keyof typeof PORTS)])) as Record<
    (typeof PORTS)[keyof typeof PORTS][0],
    number
  >;
  const externalKafka = env.AUDIT_KAFKA_BROKERS === '' ? undefined : env.AUDIT_KAFKA_BROKERS;
  if (externalKafka !== undefined) {
    const brokers = externalKafka.split(',').map((b) => b.trim());
    if (brokers.some((b) => !/^[^\s:/]+:\d{1,5}$/.test(b) || Number(b.slice(b.lastIndexOf(':') + 1)) > 65535)) {
      problems.push(`AUDIT_KAFKA_BROKERS: expected host:port[,host:port...], got ${JSON.stringify(externalKafka)}`);
    }
  }
  const externalEs = env.AUDIT_ES_URL === '' ? undefined : env.AUDIT_ES_URL;
  if (externalEs !== undefined) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(externalEs).protocol);
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`AUDIT_ES_URL: expected an http(s) URL like http://127.0.0.1:9200, got ${JSON.stringify(externalEs)}`);
  }
  // brokers and URL are checked above with npm start's own words; the rest as the services will
  const connEnv = { ...env, AUDIT_KAFKA_BROKERS: undefined, AUDIT_ES_URL: undefined, AUDIT_CONFIG: undefined };
  const kafkaConn = connection<KafkaConnectionConfig>(
    'kafka',
    kafkaConfigSchema,
    KAFKA_ENV,
    { brokers: ['127.0.0.1:9092'], clientId: 'jwt-audit-setup' },
    connEnv,
    problems,
  );
  const esConn = connection<EsConnectionConfig>('elasticsearch', esConfigSchema, ES_ENV, { url: 'http://127.0.0.1:9200' }, connEnv, problems);
  const level = env.AUDIT_LOG_LEVEL;
  if (level !== undefined && level !== '' && !LOG_LEVELS.includes(level))
    problems.push(`AUDIT_LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  // AUDIT_SUPERVISOR_UNHEALTHY_RESTART_MS: how long a service may answer /healthz unhealthy before
  // it is restarted; 0 disables it. At least 10 s: a rebalance or a broker restart is unhealthy
  // for a few seconds, and restarting a stage for that only lengthens it.
  let unhealthyRestartMs = 120_000;
  const unhealthy = env.AUDIT_SUPERVISOR_UNHEALTHY_RESTART_MS;
  if (unhealthy !== undefined && unhealthy !== '') {
    const n = Number(unhealthy);
    if (!/^\d+$/.test(unhealthy.trim()) || (n !== 0 && (n < 10_000 || n > 86_400_000)))
      problems.push(`AUDIT_SUPERVISOR_UNHEALTHY_RESTART_MS: expected 0 (never) or milliseconds 10000..86400000, got ${JSON.stringify(unhealthy)}`);
    else unhealthyRestartMs = n;
  }
  const host = env.AUDIT_HOST || '127.0.0.1';
  const settings: StartSettings = {
    root,
    dataDir: path.resolve(env.AUDIT_DATA_DIR || path.join(root, '.data')),
    host,
    ...ports,
    externalKafka,
    externalEs,
    unhealthyRestartMs,
    kafka: { ...kafkaConn, clientId: 'jwt-audit-setup' },
    elasticsearch: esConn,
  };
  // Two components on one port would fail later, inside a service, as EADDRINUSE.
  const used = new Map<number, string>();
  for (const [variable, p] of portsInUse(settings)) {
    const other = used.get(p);
    if (other) problems.push(`${variable}: port ${p} is also ${other}'s`);
    else used.set(p, variable);
  }
  return { settings, problems };
}

/** Every port `npm start` will listen on, with the variable that sets it. */
export function portsInUse(s: StartSettings): [string, number][] {
  const out: [string, number][] = [];
  if (!s.externalKafka) out.push(['AUDIT_KAFKA_PORT', s.kafkaPort]);
  if (!s.externalEs) out.push(['AUDIT_ES_PORT', s.esPort]);
  out.push(
    ['AUDIT_INTERCEPTOR_PORT', s.interceptorPort],
    ['AUDIT_DEMO_AUTH_PORT', s.authPort],
    ['AUDIT_DEMO_UPSTREAM_PORT', s.upstreamPort],
    ['AUDIT_DEMO_WEBHOOK_PORT', s.webhookPort],
    ['AUDIT_CONSOLE_PORT', s.consolePort],
  );
  for (let i = 0; i < OPS_PORTS; i++) out.push([i === 0 ? 'AUDIT_OPS_BASE_PORT' : `AUDIT_OPS_BASE_PORT+${i}`, s.opsBasePort + i]);
  return out;
}

/** The ports that something already listens on (each is bound for an instant, then released). */
export async function busyPorts(host: string, ports: [string, number][]): Promise<string[]> {
  const busy: string[] = [];
  for (const [variable, p] of ports) {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      const srv = createServer();
      srv.once('error', (e: NodeJS.ErrnoException) => resolve(e));
      srv.listen({ port: p, host, exclusive: true }, () => srv.close(() => resolve(null)));
    });
    if (err) busy.push(`${variable}: port ${p} on ${host} is in use${err.code && err.code !== 'EADDRINUSE' ? ` (${err.code})` : ''}`);
  }
  return busy;
}

/**
 * One `npm start` per data directory: a lock file holding the owner's pid, created exclusively.
 * A lock whose process is gone (a crash, kill -9) is stale and taken over. A pid lock rather than
 * a library's mtime-refreshing lock, because "is that process alive" is the question here.
 */
export function lockDataDir(dataDir: string): { release(): void } | { heldBy: number } {
  const file = path.join(dataDir, 'npm-start.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return { release: () => rmSync(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) return { heldBy: pid };
      rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot take ${file}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
