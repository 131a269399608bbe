#!/usr/bin/env node
import { CommanderError } from 'commander';
import { buildProgram, EXIT } from './program.js';

const program = await buildProgram();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end through here with exit code 0; usage errors were already printed.
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  process.stderr.write(`audit: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(typeof (err as { exitCode?: unknown }).exitCode === 'number' ? (err as { exitCode: number }).exitCode : EXIT.failed);
}
