/**
 * The interceptor against a bare node:http reverse proxy, same upstream, same run.
 *
 * Every part runs in its own process, as in production: the embedded broker, the upstream, the
 * proxy under test (bench/target.ts: `bare` or `interceptor` in enforce mode, RS256, cached
 * JWKS, every exchange published to the broker), and the load generator (autocannon, here).
 * Two measurements per target, alternating bare / interceptor for BENCH_ROUNDS rounds:
 *   - throughput: as many requests as BENCH_CONNECTIONS keep-alive connections can push
 *     (saturation; latency there is queueing, so it is reported but not compared);
 *   - latency: p50/p99 at a steady, open-loop offered load (bench/steady-load.ts; BENCH_RATE
 *     req/s, default half the slower target's saturation throughput), which both serve, so the
 *     difference is the latency the interceptor adds.
 * All saturation runs come first, then the fixed-load runs. The best round of each target is
 * compared (noise on a shared machine only slows runs down). The CPU per request of each process
 * (all threads, from /proc) is the figure least moved by that noise.
 *
 *   npm run bench -w services/interceptor
 *   BENCH_SECONDS=20 BENCH_ROUNDS=3 BENCH_CONNECTIONS=100 npm run bench -w services/interceptor
 *   BENCH_PROFILE=/tmp/prof npm run bench -w services/interceptor   (CPU profiles of the targets)
 *   BENCH_PIN=on npm run bench -w services/interceptor               (the pinned setup alone)
 *
 * Pinned (issue #21 item 2; BENCH_PIN: `both`, the default where `taskset` exists and there are 2
 * CPUs or more, runs the unpinned suite and then the pinned one; `on` the pinned one alone; `off`
 * the unpinned one alone): the proxy under test, with all its threads, runs on
 * BENCH_PIN_PROXY_CPUS (default CPU 0) and everything else (the broker, the upstream, the load
 * generator: this process) on BENCH_PIN_OTHER_CPUS (default the other CPUs), so both proxies get
 * the same CPU budget, as in production where the broker and the clients are not on the proxy's
 * cores. The steady rate there is half the bare proxy's pinned saturation throughput. Other
 * programs on the machine are not pinned away: on a shared machine the proxy's CPU is still
 * shared with them, so the ratios, not the absolute figures, are what compares.
 */
import net from 'node:net';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { cpuMicros } from '../../../scripts/lib/proc-cpu.js';
import { quietLogger, startTestAuthServer } from '../src/testdata/harness.js';
import { steadyLoad, type SteadyResult } from './steady-load.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const profileDir = process.env.BENCH_PROFILE;
/** The targets run the workspaces' compiled dist/ (npm run bench builds them first), as production does. */
const fromSource = process.env.BENCH_FROM_SOURCE === '1';

interface Result {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

function load(url: string, headers: Record<string, string>, opts: { duration: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, headers, ...opts }, (err: Error | null, r: Result) => (err ? reject(err) : resolve(r)));
  });
}

interface Child {
  proc: ChildProcess;
  /** The next JSON line the child prints. */
  next(): Promise<Record<string, unknown>>;
}

/** `cpus`: run the child on that CPU set (taskset execs node, so the pid is node's; its threads inherit the set). */
function child(file: string, env: Record<string, string>, nodeArgs: string[] = [], fromSource = true, cpus?: string): Child {
  const args = [...nodeArgs, ...(fromSource ? ['--conditions=source'] : []), '--import', 'tsx', fileURLToPath(new URL(file, import.meta.url))];
  const proc = spawn(cpus ? 'taskset' : process.execPath, cpus ? ['-c', cpus, process.execPath, ...args] : args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return {
    proc,
    async next() {
      const r = await lines.next();
      if (r.done) throw new Error(`${file} exited before answering`);
      return JSON.parse(r.value) as Record<string, unknown>;
    },
  };
}

async function stopChild(c: Child): Promise<Record<string, unknown> | null> {
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  const last = await c.next().catch(() => null);
  await exited;
  return last;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const up = await new Promise<boolean>((resolve) =>
      net
        .connect(port, '127.0.0.1')
        .on('connect', function (this: net.Socket) {
          this.destroy();
          resolve(true);
        })
        .on('error', () => resolve(false)),
    );
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on port ${port}`);
}

const progress = (s: string) => process.stderr.write(`${s}\n`);
const dir = await mkdtemp(path.join(tmpdir(), 'interceptor-bench-'));
const kafkaPort = await freePort();
const brokerProc = spawn(
  process.execPath,
  [
    '--conditions=source',
    '--import',
    'tsx',
    fileURLToPath(new URL('../../../packages/embedded-kafka/src/bin.ts', import.meta.url)),
    '--dir',
    path.join(dir, 'kafka'),
    '--port',
    String(kafkaPort),
  ],
  { stdio: 'ignore' },
);
await waitForPort(kafkaPort);
const brokerAddress = `127.0.0.1:${kafkaPort}`;
await ensureTopics(createKafkaClient({ brokers: [brokerAddress], clientId: 'bench' }, quietLogger()));
const auth = await startTestAuthServer();
const upstream = child('./upstream.ts', {});
const upstreamUrl = String((await upstream.next()).url);
const token = await auth.sign({ sub: 'bench-user', scope: 'orders:read' }, { expiresInSec: 3600 });
const headers = { authorization: `Bearer ${token}` };

type Kind = 'bare' | 'interceptor' | 'compare';
/** BENCH_COMPARE_DIR: a checkout of another version (npm ci + build done there) measured as a third target, for A/B work */
const compareDir = process.env.BENCH_COMPARE_DIR;
/** BENCH_COMPARE_CLIENT: the same build with the producer on this Kafka client (AUDIT_INTERCEPTOR_KAFKA_CLIENT) as the third target */
const compareClient = process.env.BENCH_COMPARE_CLIENT;
/** BENCH_INTERCEPTOR_NODE_ARGS: node options for the interceptor target only (say, GC settings against BENCH_COMPARE_DIR=. without them) */
const interceptorNodeArgs = (process.env.BENCH_INTERCEPTOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
const kinds: Kind[] = compareDir || compareClient ? ['bare', 'interceptor', 'compare'] : ['bare', 'interceptor'];
const labelOf = (kind: Kind) =>
  kind === 'bare'
    ? 'bare node proxy'
    : kind === 'interceptor'
      ? `interceptor (enforce, RS256${process.env.BENCH_KAFKA_CLIENT ? `, ${process.env.BENCH_KAFKA_CLIENT} producer` : ''})`
      : compareDir
        ? `interceptor from ${compareDir}`
        : `interceptor (enforce, RS256, ${compareClient} producer)`;
/** CPU µs per request during the saturation run: the proxy process (all its threads), the broker, the upstream, the load generator (this process). */
interface Cpu {
  proxy: number;
  /** the proxy's main thread alone: the event loop every request goes through */
  loop: number;
  broker: number;
  upstream: number;
  loadgen: number;
}
interface Row {
  max: Result;
  fixed?: SteadyResult;
  published: number;
  /** producer sends (batches) */
  sends: number;
  cpu: Cpu;
  /** inside the proxy process during the steady load: event-loop delay and GC pauses, ms */
  stalls?: Stalls;
  /** CPU µs per request of the proxy process and its main thread during the steady load: both targets at the same rate */
  steadyCpu?: { proxy: number; loop: number };
}
interface Stalls {
  loopDelayP99: number;
  loopDelayMax: number;
  gcPauses: number;
  gcPauseP99: number;
  gcPauseMax: number;
  gcPauseTotal: number;
}
type Pinning = { proxy: string; others: string } | undefined;

/** Starts a target, warms it up, runs `measure`, stops it; returns what it measured and what the target said last. */
async function withTarget<T>(
  kind: Kind,
  label: string,
  measure: (url: string, pid: number) => Promise<T>,
  pin: Pinning,
): Promise<{ value: T; published: number; sends: number; stalls: Stalls }> {
  const target = child(
    './target.ts',
    {
      BENCH_TARGET: kind === 'compare' ? 'interceptor' : kind,
      ...(kind === 'compare' && compareDir ? { BENCH_INTERCEPTOR_DIR: compareDir } : {}),
      ...(kind === 'compare' && compareClient ? { BENCH_KAFKA_CLIENT: compareClient } : {}),
      BENCH_UPSTREAM: upstreamUrl,
      BENCH_BROKER: brokerAddress,
      BENCH_DIR: path.join(dir, `${kind}-${label}${pin ? '-pinned' : ''}`),
      BENCH_JWKS: auth.jwksUrl,
      BENCH_ISSUER: auth.issuer,
      BENCH_AUDIENCE: auth.audience,
    },
    [
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, `${kind}-${label}${pin ? '-pinned' : ''}`)}`] : []),
      ...(kind === 'interceptor' ? interceptorNodeArgs : []),
    ],
    fromSource,
    pin?.proxy,
  );
  const url = `${String((await target.next()).url)}/api/orders`;
  await load(url, headers, { duration: 2 }); // JIT, sockets, JWKS, producer connection
  target.proc.kill('SIGUSR2'); // the target counts stalls from here
  const value = await measure(url, target.proc.pid!);
  const last = await stopChild(target);
  return { value, published: Number(last?.published ?? 0), sends: Number(last?.sends ?? 0), stalls: last as unknown as Stalls };
}

const failures = (r: Result) => r.non2xx + r.errors + r.timeouts;

/**
 * One suite: saturation rounds, then steady-load rounds, alternating targets. Unpinned, it also
 * measures the publishing floor and sets the steady rate to half the slower target's saturation
 * (BENCH_RATE overrides); pinned, the steady rate is half the bare proxy's pinned saturation, as
 * the target is stated.
 */
async function suite(pin: Pinning): Promise<{ lines: string[]; ratio: number; added: number; rate: number }> {
  const results: Record<Kind, Row[]> = { bare: [], interceptor: [], compare: [] };
  const tag = pin ? `pinned (proxy on CPU ${pin.proxy}, the rest on ${pin.others})` : 'unpinned';
  // phase 1: saturation, alternating targets
  for (let round = 1; round <= rounds; round++) {
    for (const kind of kinds) {
      progress(`${tag}: round ${round}/${rounds}: ${kind}: saturation, ${seconds} s`);
      const { value, published, sends } = await withTarget(
        kind,
        `max-${round}`,
        async (url, pid) => {
          const pids = { proxy: pid, broker: brokerProc.pid!, upstream: upstream.proc.pid! };
          const before = {
            proxy: cpuMicros(pids.proxy),
            loop: cpuMicros(pid, true),
            broker: cpuMicros(pids.broker),
            upstream: cpuMicros(pids.upstream),
            loadgen: process.cpuUsage(),
          };
          const max = await load(url, headers, { duration: seconds });
          const per = (k: keyof typeof pids) => (cpuMicros(pids[k]) - before[k]) / max.requests.total;
          const loop = (cpuMicros(pid, true) - before.loop) / max.requests.total;
          const gen = process.cpuUsage(before.loadgen);
          return {
            max,
            cpu: { proxy: per('proxy'), loop, broker: per('broker'), upstream: per('upstream'), loadgen: (gen.user + gen.system) / max.requests.total },
          };
        },
        pin,
      );
      results[kind].push({ ...value, published, sends });
    }
  }

  const best = (kind: Kind) => results[kind].reduce((a, b) => (b.max.requests.average > a.max.requests.average ? b : a));

  // phase 1b (unpinned): the publishing floor (bench/publish-floor.ts): kafkajs alone publishing the
  // records the interceptor just published, in its batch size, in a process of its own; the broker's share too
  let floor: { client: string; records: number; batch: number; valueBytes: number; headers: number; cpuPerRecord: number; brokerPerRecord: number } | undefined;
  if (!pin) {
    progress("publishing floor: the interceptor's Kafka client alone, its records and batch size");
    const fastest = best('interceptor');
    const floorChild = child('./publish-floor.ts', {
      BENCH_BROKER: brokerAddress,
      BENCH_BROKER_PID: String(brokerProc.pid),
      BENCH_BATCH: String(fastest.sends > 0 ? fastest.published / fastest.sends : 50),
    });
    floor = (await floorChild.next()) as typeof floor;
    await stopChild(floorChild);
  }
  // phase 2: latency at a steady offered load
  const half = (n: number) => Math.max(100, Math.round(n / 2 / 100) * 100);
  const rate = pin
    ? Number(process.env.BENCH_PIN_RATE ?? 0) || half(best('bare').max.requests.average)
    : Number(process.env.BENCH_RATE ?? 0) || half(Math.min(best('bare').max.requests.average, best('interceptor').max.requests.average));
  for (let round = 1; round <= rounds; round++) {
    for (const kind of kinds) {
      progress(`${tag}: round ${round}/${rounds}: ${kind}: ${rate} req/s offered, ${seconds} s`);
      const { value, stalls } = await withTarget(
        kind,
        `fixed-${round}`,
        async (url, pid) => {
          const before = { proxy: cpuMicros(pid), loop: cpuMicros(pid, true) };
          const fixed = await steadyLoad(url, headers, rate, seconds);
          return { fixed, cpu: { proxy: (cpuMicros(pid) - before.proxy) / fixed.sent, loop: (cpuMicros(pid, true) - before.loop) / fixed.sent } };
        },
        pin,
      );
      results[kind][round - 1]!.fixed = value.fixed;
      results[kind][round - 1]!.steadyCpu = value.cpu;
      results[kind][round - 1]!.stalls = stalls;
    }
  }

  const bestLatency = (kind: Kind) => results[kind].reduce((a, b) => (b.fixed!.p99 < a.fixed!.p99 ? b : a)).fixed!;
  const lines = [
    `${tag}: node ${process.version}, ${connections} connections, ${seconds} s per measurement, ${rounds} rounds, steady load ${rate} req/s, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    `| target | round | max req/s | p50 / p99 ms at max | p50 / p99 ms at a steady load | steady load, in the proxy: loop delay p99 / max, GC pauses (max) ms | CPU µs/request: proxy (its event loop), broker, upstream | ${pin ? "busy at max: proxy CPU, the others' CPU | " : ''}failed | events published |`,
    `| --- | --- | --- | --- | --- | --- | --- | ${pin ? '--- | ' : ''}--- | --- |`,
  ];
  for (let i = 0; i < rounds; i++) {
    for (const kind of kinds) {
      const r = results[kind][i]!;
      // how busy each CPU set was at saturation: which side limited the throughput
      const busy = pin
        ? `${Math.round((r.cpu.proxy * r.max.requests.average) / 1e4)} %, ${Math.round(((r.cpu.broker + r.cpu.upstream + r.cpu.loadgen) * r.max.requests.average) / 1e4)} % | `
        : '';
      lines.push(
        `| ${labelOf(kind)} | ${i + 1} | ${Math.round(r.max.requests.average)} | ${r.max.latency.p50} / ${r.max.latency.p99} | ${r.fixed!.p50} / ${r.fixed!.p99} | ${r.stalls!.loopDelayP99.toFixed(1)} / ${r.stalls!.loopDelayMax.toFixed(1)}, ${r.stalls!.gcPauses} (${r.stalls!.gcPauseMax.toFixed(1)}) | ${Math.round(r.cpu.proxy)} (${Math.round(r.cpu.loop)}), ${Math.round(r.cpu.broker)}, ${Math.round(r.cpu.upstream)} | ${busy}${failures(r.max) + r.fixed!.failed} | ${kind === 'bare' ? '-' : r.published} |`,
      );
    }
  }
  const ratio = best('interceptor').max.requests.average / best('bare').max.requests.average;
  const leastCpu = (kind: Kind, k: 'proxy' | 'loop' = 'proxy') => Math.min(...results[kind].map((r) => r.cpu[k]));
  const leastSteadyCpu = (kind: Kind, k: 'proxy' | 'loop') => Math.min(...results[kind].map((r) => r.steadyCpu![k]));
  const cpuRatio = leastCpu('bare') / leastCpu('interceptor');
  const loopRatio = leastCpu('bare', 'loop') / leastCpu('interceptor', 'loop');
  const added = bestLatency('interceptor').p99 - bestLatency('bare').p99;
  const addedP50 = bestLatency('interceptor').p50 - bestLatency('bare').p50;
  lines.push(
    pin
      ? `${tag}: throughput ${ratio.toFixed(2)}x the bare proxy on the same CPU budget (target >= 0.7x: ${ratio >= 0.7 ? 'met' : 'NOT met'}); added at a steady ${rate} req/s (half the bare proxy's saturation): p50 ${addedP50.toFixed(2)} ms, p99 ${added.toFixed(2)} ms (target <= +1 ms: ${added <= 1 ? 'met' : 'NOT met'})`
      : `throughput: ${ratio.toFixed(2)}x the bare proxy (target >= 0.85x); added at a steady ${rate} req/s: p50 ${addedP50.toFixed(2)} ms, p99 ${added.toFixed(2)} ms (target <= 1 ms)`,
  );
  if (kinds.includes('compare')) {
    const c = best('compare').max.requests.average;
    lines.push(
      `${tag}: ${labelOf('compare')}: throughput ${(c / best('bare').max.requests.average).toFixed(2)}x the bare proxy (the interceptor above: ${ratio.toFixed(2)}x, ${(best('interceptor').max.requests.average / c).toFixed(2)}x this one); proxy CPU per request ${Math.round(leastCpu('compare'))} µs (event loop ${Math.round(leastCpu('compare', 'loop'))} µs)`,
    );
  }
  lines.push(
    `proxy CPU per request: bare ${Math.round(leastCpu('bare'))} µs, interceptor ${Math.round(leastCpu('interceptor'))} µs: requests per core ${cpuRatio.toFixed(2)}x the bare proxy`,
  );
  lines.push(
    `event loop CPU per request: bare ${Math.round(leastCpu('bare', 'loop'))} µs, interceptor ${Math.round(leastCpu('interceptor', 'loop'))} µs: ${loopRatio.toFixed(2)}x (the interceptor's ceiling when its producer thread has a core of its own)`,
  );
  lines.push(
    `at the same steady ${rate} req/s (per-request costs fall as the rate rises, so the saturation figures favour the faster target): ` +
      `proxy CPU per request bare ${Math.round(leastSteadyCpu('bare', 'proxy'))} µs, interceptor ${Math.round(leastSteadyCpu('interceptor', 'proxy'))} µs; ` +
      `event loop bare ${Math.round(leastSteadyCpu('bare', 'loop'))} µs, interceptor ${Math.round(leastSteadyCpu('interceptor', 'loop'))} µs (${(leastSteadyCpu('bare', 'loop') / leastSteadyCpu('interceptor', 'loop')).toFixed(2)}x)`,
  );
  if (kinds.includes('compare')) {
    // the A/B figure least moved by a shared machine: both builds at the same offered rate, per round
    const steady = (kind: Kind) => results[kind].map((r) => `${Math.round(r.steadyCpu!.proxy)} (${Math.round(r.steadyCpu!.loop)})`).join(', ');
    lines.push(
      `${tag}: at the steady ${rate} req/s, proxy CPU µs per request (event loop) by round: interceptor ${steady('interceptor')}; ${labelOf('compare')} ${steady('compare')}`,
    );
  }
  if (floor) {
    // On two shared cores every process's CPU comes out of the same budget: the bare setup spends
    // `bareTotal` per request; the interceptor must add at least what publishing one record costs
    // (kafkajs in the proxy, the broker receiving it)
    const b = best('bare').cpu;
    const bareTotal = b.proxy + b.upstream + b.broker + b.loadgen;
    const publishing = floor.cpuPerRecord + floor.brokerPerRecord;
    const ceiling = bareTotal / (bareTotal + publishing);
    lines.push(
      `publishing floor: ${floor.client} alone spends ${floor.cpuPerRecord.toFixed(0)} µs CPU per record and the broker ${floor.brokerPerRecord.toFixed(0)} µs (the interceptor's ${floor.valueBytes}-byte records with ${floor.headers} headers, batches of ${floor.batch.toFixed(0)}); ` +
        `the bare setup spends ${bareTotal.toFixed(0)} µs per request in all (proxy ${b.proxy.toFixed(0)}, upstream ${b.upstream.toFixed(0)}, load generator ${b.loadgen.toFixed(0)}): ` +
        `on these shared cores no design that publishes each request through ${floor.client} to this broker exceeds ${ceiling.toFixed(2)}x, before building or encoding any event`,
    );
  } else {
    // pinned: the proxy's core pays for kafkajs too; the floor's own figure bounds it there
    const b = best('bare').cpu;
    lines.push(
      `${tag}: on the proxy's CPU alone, the interceptor spends ${Math.round(leastCpu('interceptor'))} µs per request against the bare proxy's ${Math.round(b.proxy)}: a ${(b.proxy / leastCpu('interceptor')).toFixed(2)}x ceiling when the proxy's CPU is the limit`,
    );
  }
  return { lines, ratio, added, rate };
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const pinMode = process.env.BENCH_PIN ?? (hasTaskset && availableParallelism() >= 2 ? 'both' : 'off');
if (!['on', 'off', 'both'].includes(pinMode)) throw new Error(`BENCH_PIN must be on, off or both, not ${JSON.stringify(pinMode)}`);
if (pinMode !== 'off' && !hasTaskset) throw new Error('BENCH_PIN needs taskset (util-linux)');
const out: string[] = [];
if (pinMode !== 'on') out.push(...(await suite(undefined)).lines);
if (pinMode !== 'off') {
  const cpus = availableParallelism();
  const pin = { proxy: process.env.BENCH_PIN_PROXY_CPUS ?? '0', others: process.env.BENCH_PIN_OTHER_CPUS ?? (cpus > 2 ? `1-${cpus - 1}` : '1') };
  // everything but the proxy under test, with all its threads, onto the other CPU set
  for (const pid of [process.pid, brokerProc.pid!, upstream.proc.pid!])
    execFileSync('taskset', ['-a', '-p', '-c', pin.others, String(pid)], { stdio: 'ignore' });
  if (out.length > 0) out.push('');
  out.push(...(await suite(pin)).lines);
}
process.stdout.write(out.join('\n') + '\n');

await stopChild(upstream);
await auth.close();
brokerProc.kill('SIGTERM');
await new Promise((r) => brokerProc.once('exit', r));
await rm(dir, { recursive: true, force: true });
