import { CommanderError } from 'commander';
import { buildProgram, EXIT } from './program.js';

/**
 * Runs one `audit` command line (without the node and script arguments) and returns its exit
 * code; `failed` says the command ended with an error (bin.ts then exits at once, whatever is
 * still open). In-process, so tests can run many command lines without a node start-up each.
 */
export async function runAudit(
  argv: string[],
  io: { err(text: string): void } = { err: (t) => process.stderr.write(t) },
): Promise<{ code: number; failed: boolean }> {
  const program = await buildProgram();
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { code: typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok, failed: false };
  } catch (err) {
    // --help and --version end through here with exit code 0; usage errors were already printed.
    if (err instanceof CommanderError) return { code: err.exitCode === 0 ? EXIT.ok : EXIT.usage, failed: true };
    io.err(`audit: ${err instanceof Error ? err.message : String(err)}\n`);
    return { code: typeof (err as { exitCode?: unknown }).exitCode === 'number' ? (err as { exitCode: number }).exitCode : EXIT.failed, failed: true };
  } finally {
    if (typeof process.exitCode === 'number' && process.exitCode !== 0) process.exitCode = undefined;
  }
}
