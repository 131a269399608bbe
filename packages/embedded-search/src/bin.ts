#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '@jwt-audit/runtime';
import { startSearchNode } from './server.js';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

const program = new Command('embedded-search')
  .description('An Elasticsearch REST subset for one machine (what the audit pipeline and @elastic/elasticsearch use), persisted to --dir')
  .option('--dir <path>', 'data directory', './.data/search')
  .option('--port <n>', 'listen port (0 = any free port)', int('--port'), 9200)
  .option('--host <addr>', 'listen address', '127.0.0.1')
  .option('--ilm-interval-ms <n>', 'how often ILM phases are applied', int('--ilm-interval-ms'), 60_000)
  .option('--users-file <path>', 'require authentication: a JSON file {"user": "password", ...} (basic authentication)')
  .option('--api-keys-file <path>', 'require authentication: a JSON file {"id": "key", ...} (Authorization: ApiKey base64(id:key))')
  .option('--tls-cert-file <path>', 'serve HTTPS: PEM certificate (chain), with --tls-key-file')
  .option('--tls-key-file <path>', 'PEM private key of --tls-cert-file')
  .option('--log-level <level>', 'pino level', 'info')
  .showHelpAfterError();
program.parse();
const o = program.opts<{
  dir: string;
  port: number;
  host: string;
  ilmIntervalMs: number;
  logLevel: string;
  usersFile?: string;
  apiKeysFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
}>();
const read = (flag: string, file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return program.error(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { exitCode: 2 });
  }
};
const table = (flag: string, file: string | undefined): Record<string, string> | undefined => {
  if (!file) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(read(flag, file));
  } catch {
    program.error(`${flag}: ${file} is not JSON`, { exitCode: 2 });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string') || Object.keys(v).length === 0) {
    program.error(`${flag}: expected a JSON object of names to secret strings, at least one`, { exitCode: 2 });
  }
  return v as Record<string, string>;
};
const users = table('--users-file', o.usersFile);
const apiKeys = table('--api-keys-file', o.apiKeysFile);
if (Boolean(o.tlsCertFile) !== Boolean(o.tlsKeyFile)) program.error('--tls-cert-file and --tls-key-file go together', { exitCode: 2 });
const security = users || apiKeys ? { security: { ...(users ? { users } : {}), ...(apiKeys ? { apiKeys } : {}) } } : {};
const tls = o.tlsCertFile ? { tls: { cert: read('--tls-cert-file', o.tlsCertFile), key: read('--tls-key-file', o.tlsKeyFile!) } } : {};
const logger = createLogger({ name: 'embedded-search', level: o.logLevel });
try {
  const node = await startSearchNode({ dir: o.dir, port: o.port, host: o.host, ilmPollIntervalMs: o.ilmIntervalMs, logger, ...security, ...tls });
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    node.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'cannot start the search node');
  process.exit(3);
}
