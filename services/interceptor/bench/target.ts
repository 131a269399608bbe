/**
 * One proxy under test, in its own process (as it runs in production): `bare` is a node:http
 * reverse proxy that does nothing else; `interceptor` is the interceptor in enforce mode. Reads
 * its settings from BENCH_* variables, prints {"url": ...} on stdout when listening, and stops
 * cleanly on SIGTERM (so `node --cpu-prof` writes its profile).
 */
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { createInterceptor as CreateInterceptor } from '../src/index.js';
import { closeServer, listen, quietLogger, testConfig } from '../src/testdata/harness.js';
import { defaults } from '../src/config.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const kind = env('BENCH_TARGET');
const upstreamUrl = env('BENCH_UPSTREAM');
/** Stops the target; returns what it has to report. */
let stop: () => Promise<Record<string, number>>;

// Where a request's latency can stall inside this process: event-loop delay and GC pauses, counted
// from SIGUSR2 (sent when the measurement starts) to SIGTERM
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
let gcPauses: number[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push(e.duration);
}).observe({ entryTypes: ['gc'] });
process.on('SIGUSR2', () => {
  loopDelay.reset();
  gcPauses = [];
});
// BENCH_ALLOC_PROFILE=<file>: V8's sampling heap profiler over everything allocated (collected
// objects included: garbage is what costs the GC), written at SIGTERM; open it in Chrome DevTools
const allocProfile = process.env.BENCH_ALLOC_PROFILE;
const inspector = allocProfile ? new (await import('node:inspector')).Session() : undefined;
if (inspector) {
  inspector.connect();
  inspector.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as object);
}
async function writeAllocProfile(): Promise<void> {
  if (!inspector || !allocProfile) return;
  const profile = await new Promise<unknown>((resolve, reject) =>
    inspector.post('HeapProfiler.stopSampling', (err, r) => (err ? reject(err) : resolve(r.profile))),
  );
  (await import('node:fs')).writeFileSync(allocProfile, JSON.stringify(profile));
}

function stalls(): Record<string, number> {
  const sorted = [...gcPauses].sort((a, b) => a - b);
  return {
    loopDelayP99: loopDelay.percentile(99) / 1e6,
    loopDelayMax: loopDelay.max / 1e6,
    gcPauses: sorted.length,
    gcPauseP99: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
    gcPauseMax: sorted.at(-1) ?? 0,
    gcPauseTotal: sorted.reduce((a, b) => a + b, 0),
  };
}
let url: string;

if (kind === 'bare') {
  const up = new URL(upstreamUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const bare = http.createServer((req, res) => {
    const p = http.request({ hostname: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    p.on('error', () => res.writeHead(502).end());
    req.pipe(p);
  });
  url = await listen(bare);
  stop = async () => {
    await closeServer(bare);
    agent.destroy();
    return {};
  };
} else if (kind === 'interceptor') {
  // the compiled package, as production runs it (tsx's transpiled sources wrap every closure made
  // per request in a naming helper); BENCH_FROM_SOURCE=1 measures the sources instead
  const other = process.env.BENCH_INTERCEPTOR_DIR; // another checkout's build (BENCH_COMPARE_DIR)
  const from = other
    ? pathToFileURL(path.join(other, 'services/interceptor/dist/index.js')).href
    : process.env.BENCH_FROM_SOURCE
      ? '../src/index.js'
      : '@jwt-audit/interceptor';
  const { createInterceptor } = (await import(from)) as { createInterceptor: typeof CreateInterceptor };
  const interceptor = createInterceptor(
    testConfig({
      brokers: [env('BENCH_BROKER')],
      spoolDir: path.join(env('BENCH_DIR'), 'spool'),
      jwksUrl: env('BENCH_JWKS'),
      issuer: env('BENCH_ISSUER'),
      audience: env('BENCH_AUDIENCE'),
      upstreams: { api: upstreamUrl },
      routes: [{ name: 'orders', path: '/api/orders', upstream: 'api', scopes: ['orders:read'] }],
      revocations: { enabled: true, startupTimeoutMs: 5_000 },
      queue: {
        ...defaults.queue,
        ...(process.env.BENCH_LINGER_MS ? { lingerMs: Number(process.env.BENCH_LINGER_MS) } : {}),
        // BENCH_KAFKA_CLIENT: the producer's client (config queue.client); the default otherwise
        ...(process.env.BENCH_KAFKA_CLIENT ? { client: process.env.BENCH_KAFKA_CLIENT as 'kafkajs' | 'platformatic' } : {}),
      },
    }),
    { logger: quietLogger() },
  );
  url = (await interceptor.start()).url;
  stop = async () => {
    const text = await interceptor.metrics.registry.metrics();
    const published = /audit_interceptor_published_records_total\{topic="audit.raw.v1"\} (\d+)/.exec(text)?.[1];
    const sends = /audit_interceptor_publish_duration_seconds_count (\d+)/.exec(text)?.[1];
    await interceptor.stop();
    return { published: Number(published ?? 0), sends: Number(sends ?? 0) };
  };
} else {
  throw new Error(`BENCH_TARGET must be bare or interceptor, not ${kind}`);
}

process.stdout.write(JSON.stringify({ url }) + '\n');
process.once('SIGTERM', () => {
  const seen = stalls();
  writeAllocProfile()
    .then(() => stop())
    .then(
      (said) => {
        process.stdout.write(JSON.stringify({ ...said, ...seen }) + '\n');
        process.exit(0);
      },
      () => process.exit(1),
    );
});
