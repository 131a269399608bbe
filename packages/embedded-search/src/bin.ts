#!/usr/bin/env node
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
  .option('--log-level <level>', 'pino level', 'info')
  .showHelpAfterError();
program.parse();
const o = program.opts<{ dir: string; port: number; host: string; ilmIntervalMs: number; logLevel: string }>();
const logger = createLogger({ name: 'embedded-search', level: o.logLevel });
try {
  const node = await startSearchNode({ dir: o.dir, port: o.port, host: o.host, ilmPollIntervalMs: o.ilmIntervalMs, logger });
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    node.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'cannot start the search node');
  process.exit(3);
}
