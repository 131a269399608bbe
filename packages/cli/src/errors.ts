import { defineErrors, type AuditError } from '@jwt-audit/runtime';

/** The codes the `audit` command defines (listed in its README); each ends the command with its exit code. */
export const CLI_ERRORS = defineErrors({
  /** The command line (or an option's environment variable) is wrong: exit 2. */
  AUDIT_ERR_CLI_USAGE: { message: '%s' },
  /** Kafka, Elasticsearch or the archive could not be reached or read, or did not answer in time: exit 3. */
  AUDIT_ERR_CLI_UNAVAILABLE: { message: '%s', retriable: true },
  /** The command ran and found a problem (verify failed, proof invalid): exit 1. */
  AUDIT_ERR_CLI_FAILED: { message: '%s' },
});

/** An error that ends the command: bin.ts prints its message and exits with `exitCode` (program.ts's EXIT). */
export function cliError(exitCode: number, message: string, cause?: unknown): AuditError & { exitCode: number } {
  const def = exitCode === 2 ? CLI_ERRORS.AUDIT_ERR_CLI_USAGE : exitCode === 3 ? CLI_ERRORS.AUDIT_ERR_CLI_UNAVAILABLE : CLI_ERRORS.AUDIT_ERR_CLI_FAILED;
  return Object.assign(cause === undefined ? def.create(message) : def.wrap(cause, message), { exitCode });
}
