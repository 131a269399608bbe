import { readFileSync } from 'node:fs';

/**
 * What the embedded parts' command lines (embedded-kafka, embedded-search) share: reading the files
 * their flags name, the JSON tables of credentials, and stopping on SIGINT / SIGTERM. `fail` is the
 * command's usage error (commander's `program.error(message, { exitCode: 2 })`).
 */
type Fail = (message: string) => never;

/** The non-negative integer a flag was given, or the message saying it is not one. */
export function nonNegativeInteger(flag: string, value: string): number | string {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : `${flag} must be a non-negative integer`;
}

/** The text of the file a flag names; a file that cannot be read is the flag's usage error. */
export function readFlagFile(flag: string, file: string, fail: Fail): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return fail(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A file of `{"name": "secret", ...}` (at least one entry, every value a string), else the flag's usage error. */
export function readSecretTable(flag: string, file: string, fail: Fail, what = 'names to secret strings'): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(readFlagFile(flag, file, fail));
  } catch {
    fail(`${flag}: ${file} is not JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string') || Object.keys(v).length === 0)
    fail(`${flag}: expected a JSON object of ${what}, at least one`);
  return v as Record<string, string>;
}

/** SIGINT / SIGTERM close the part and exit 0 (1 if closing fails); a second signal exits 1 at once. */
export function closeOnSignals(close: () => Promise<void>): void {
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
