/**
 * Exponential backoff with full jitter (a random delay in [0, min(max, initial * 2^attempt)]):
 * many consumers retrying the same failed sink spread out instead of retrying in lockstep.
 */
export function backoffDelay(attempt: number, initialMs = 100, maxMs = 10_000, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * random());
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
