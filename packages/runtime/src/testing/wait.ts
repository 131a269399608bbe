/**
 * For tests only: the one way a test waits. A test waits on a condition (a document indexed, an
 * offset committed, a port answering), never for a fixed time; to assert that something did NOT
 * happen, wait for a positive marker that must come after it (a later event on the same partition,
 * a later log line) and then assert the absence.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface UntilOptions {
  /** how long the condition may take before the test fails; generous, for a loaded 2-core machine */
  timeoutMs?: number; // default 60 s
  /** pause between two checks */
  intervalMs?: number; // default 100 ms
}

/**
 * Calls `check` until it returns something other than undefined, null or false, and resolves with
 * that. A check that throws counts as "not yet" (an index that does not exist yet, a connection
 * refused); on timeout the error names `what` and carries the last thrown error as its cause.
 */
export async function until<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: UntilOptions | number = {},
): Promise<T> {
  const { timeoutMs = 60_000, intervalMs = 100 } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last check threw: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`, lastError === undefined ? undefined : { cause: lastError });
    }
    await sleep(intervalMs);
  }
}
