#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { closeOnSignals, createLogger, nonNegativeInteger, readFlagFile, readSecretTable } from '@jwt-audit/runtime';
import { startSearchNode } from './server.js';

const int = (flag: string) => (v: string) => {
  const n = nonNegativeInteger(flag, v);
  if (typeof n === 'string') throw new InvalidArgumentError(n);
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
const fail = (message: string): never => program.error(message, { exitCode: 2 });
const read = (flag: string, file: string) => readFlagFile(flag, file, fail);
const table = (flag: string, file: string | undefined) => (file ? readSecretTable(flag, file, fail) : undefined);
const users = table('--users-file', o.usersFile);
const apiKeys = table('--api-keys-file', o.apiKeysFile);
if (Boolean(o.tlsCertFile) !== Boolean(o.tlsKeyFile)) program.error('--tls-cert-file and --tls-key-file go together', { exitCode: 2 });
const security = users || apiKeys ? { security: { ...(users ? { users } : {}), ...(apiKeys ? { apiKeys } : {}) } } : {};
const tls = o.tlsCertFile ? { tls: { cert: read('--tls-cert-file', o.tlsCertFile), key: read('--tls-key-file', o.tlsKeyFile!) } } : {};
const logger = createLogger({ name: 'embedded-search', level: o.logLevel });
try {
  const node = await startSearchNode({ dir: o.dir, port: o.port, host: o.host, ilmPollIntervalMs: o.ilmIntervalMs, logger, ...security, ...tls });
  closeOnSignals(() => node.close());
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'cannot start the search node');
  process.exit(3);
}
