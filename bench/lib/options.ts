/** The benchmark's command line, checked: every wrong option is named with what it expects. */
export interface Options {
  /** seconds of load per rate */
  duration: number;
  /** requests per second, one run each, in order */
  rates: number[];
  /** one request in this many is a probe looked for in the search node */
  probeEvery: number;
  /** ms between searches for the probes */
  pollMs: number;
  /** s to wait after each rate's load for every probe and every group to catch up */
  drainSeconds: number;
  json: boolean;
  keep: boolean;
}

export const DEFAULTS: Options = { duration: 30, rates: [1000, 3000], probeEvery: 50, pollMs: 100, drainSeconds: 120, json: false, keep: false };

export const USAGE = `usage: npm run bench -w bench -- [options]

End-to-end latency of the whole pipeline on its embedded defaults (every service running, as npm start):
request -> searchable, attack -> alert, revocation -> refused, and each consumer group's lag.

  --duration <s>      seconds of steady load per rate (default ${DEFAULTS.duration}; 1..3600)
  --rates <list>      requests per second through the interceptor, comma-separated (default ${DEFAULTS.rates.join(',')}; each 1..100000)
  --probe-every <n>   one request in n is looked for in the search node (default ${DEFAULTS.probeEvery}; 1..100000)
  --poll-ms <ms>      how often the probes are searched for: the resolution of request -> searchable (default ${DEFAULTS.pollMs}; 10..10000)
  --drain <s>         after each rate, how long to wait for every probe and every group to catch up (default ${DEFAULTS.drainSeconds}; 1..3600)
  --json              print only the JSON summary line on stdout (progress stays on stderr)
  --keep              keep the pipeline's data directory and component logs
  -h, --help          this text

Progress goes to stderr; the last line on stdout is a JSON summary. Exit codes: 0 ran, 1 the run failed, 2 usage.
`;

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const s = raw.trim();
  if (!/^\d+$/.test(s)) throw new Error(`--${name}: expected a whole number ${min}..${max}, got ${JSON.stringify(raw)}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`--${name}: expected a whole number ${min}..${max}, got ${JSON.stringify(raw)}`);
  return n;
}

export function parseOptions(values: Record<string, string | boolean | undefined>): Options {
  const problems: string[] = [];
  const take = <T>(f: () => T, fallback: T): T => {
    try {
      return f();
    } catch (err) {
      problems.push((err as Error).message);
      return fallback;
    }
  };
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const duration = take(() => integer('duration', str('duration'), DEFAULTS.duration, 1, 3600), DEFAULTS.duration);
  const probeEvery = take(() => integer('probe-every', str('probe-every'), DEFAULTS.probeEvery, 1, 100_000), DEFAULTS.probeEvery);
  const pollMs = take(() => integer('poll-ms', str('poll-ms'), DEFAULTS.pollMs, 10, 10_000), DEFAULTS.pollMs);
  const drainSeconds = take(() => integer('drain', str('drain'), DEFAULTS.drainSeconds, 1, 3600), DEFAULTS.drainSeconds);
  const rates = take(() => {
    const raw = str('rates');
    if (raw === undefined) return DEFAULTS.rates;
    const parts = raw.split(',');
    if (parts.length > 20) throw new Error(`--rates: at most 20 rates, got ${parts.length}`);
    return parts.map((p) => {
      try {
        return integer('rates', p, 0, 1, 100_000);
      } catch {
        throw new Error(`--rates: expected comma-separated whole numbers 1..100000, got ${JSON.stringify(raw)}`);
      }
    });
  }, DEFAULTS.rates);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return { duration, rates, probeEvery, pollMs, drainSeconds, json: values.json === true, keep: values.keep === true };
}
