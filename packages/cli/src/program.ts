import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';

/**
 * A command module in ./commands/ exports `register(program)`, adding its subcommand(s). Modules
 * are discovered, so each command lives in its own file and nothing else needs editing.
 */
export interface CommandModule {
  register(program: Command): void;
}

/** Exit codes shared by every subcommand. */
export const EXIT = {
  ok: 0,
  /** The check ran and found a problem (verify failed, proof invalid). */
  failed: 1,
  /** The command line was wrong. */
  usage: 2,
  /** A dependency (Kafka, Elasticsearch, the archive directory) could not be reached or read. */
  unavailable: 3,
} as const;

function version(): string {
  // package.json sits one level above both src/ (run from source) and dist/ (built)
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export async function buildProgram(): Promise<Command> {
  const program = new Command('audit')
    .description('Operate the JWT audit pipeline: search events, tail alerts, verify and prove archives')
    .version(version(), '-V, --version', 'print the version')
    // One line pointing at the help, not the whole help after every typo.
    .showHelpAfterError("(add --help for this command's usage)")
    .exitOverride();
  const dir = new URL('./commands/', import.meta.url);
  const files = readdirSync(fileURLToPath(dir))
    .filter((f) => /\.(ts|js)$/.test(f) && !/\.(test|d)\.ts$/.test(f) && !f.endsWith('.d.ts'))
    .sort();
  for (const file of files) {
    const mod = (await import(new URL(file, dir).href)) as Partial<CommandModule>;
    if (typeof mod.register === 'function') mod.register(program);
  }
  return program;
}
