/**
 * End-to-end latency of the whole pipeline (issue #21 item 1), on the embedded defaults with
 * every service running as `npm start` runs them (bench/lib/pipeline.ts: each component in a
 * process of its own), at steady rates of requests through the interceptor:
 *
 *   (a) searchable: a request sent -> its document found by a search in the search node. One request
 *       in `--probe-every` carries an id the poller looks for (a `terms` query on http.request.id
 *       every `--poll-ms`, without forcing a refresh, as a user's search would not), so the
 *       figure's resolution is the poll interval;
 *   (b) alert: an attack request (an `alg: none` token, rule token-tampering, which alerts on first
 *       sight) -> its alert consumed from audit.alerts.v1, 5 attacks/s, each from an address of
 *       its own (X-Forwarded-For) so that no suppression window folds one into another;
 *   (c) revocation: a revocation of a token's jti produced to audit.revocations.v1 (as a lifecycle
 *       system or another edge would) -> the first request the edge refuses with that token, one
 *       token after another, polled every 5 ms;
 *   (d) lag: every consumer group's lag (records behind the log end, all its topics) each second.
 *
 * After each rate's load the run waits until every probe is found and every group has caught up
 * (at most `--drain` s), so rates do not spill into one another; a probe never found counts as
 * infinitely late. The machine's load average is recorded with each rate (the machine is shared:
 * absolute figures are pessimistic), and the CPU each component used during the load.
 *
 *   npm run bench -w bench
 *   npm run bench -w bench -- --duration 10 --rates 500,1000
 *   npm run bench -w bench -- --json        (only the JSON summary on stdout)
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { alertCodec, revocationCodec, TOPICS, type Revocation } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, type Consumer } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { cpuMicros } from '../scripts/lib/proc-cpu.js';
import { pacedLoad, type PacedResult } from './lib/paced-load.js';
import { removePipelineDir, startPipeline, type Pipeline } from './lib/pipeline.js';
import { consumerLag, type LagSample } from './lib/lag.js';
import { parseOptions, USAGE, type Options } from './lib/options.js';
import { summarize, type Distribution } from './lib/stats.js';

const TARGETS = { searchableP99Ms: 2_000, alertP99Ms: 1_000, revocationP99Ms: 1_000 };

let opts: Options;
try {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      rates: { type: 'string' },
      'probe-every': { type: 'string' },
      'poll-ms': { type: 'string' },
      drain: { type: 'string' },
      json: { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  opts = parseOptions(values);
} catch (err) {
  process.stderr.write(`e2e-latency: ${(err as Error).message}\n(--help for the options)\n`);
  process.exit(2);
}

const t0 = performance.now();
const progress = (s: string) => process.stderr.write(`e2e +${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s  ${s}\n`);
const quiet = createLogger({ name: 'e2e-bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const load = () => loadavg().map((l) => +l.toFixed(2)) as [number, number, number];

progress(`starting the pipeline (load average ${load().join(' ')})`);
const pipeline: Pipeline = await startPipeline((s) => progress(s));
progress(`pipeline up: edge ${pipeline.edge}, search node ${pipeline.esUrl}, component logs in ${pipeline.logFile}`);
let failed = false;
const kafka = createKafkaClient({ brokers: pipeline.brokers, clientId: 'e2e-bench' }, quiet);
const admin = kafka.admin();
const producer = createAuditProducer(kafka, { logger: quiet });
let alertConsumer: Consumer | undefined;

async function tokenFor(user: string): Promise<string> {
  const res = await fetch(`${pipeline.edge}/oauth/token`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from('demo-web:demo-web-secret').toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: user, password: `${user}-pw` }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`token for ${user}: HTTP ${res.status}`);
  return body.access_token;
}

async function get(path: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${pipeline.edge}${path}`, { headers });
  await res.arrayBuffer();
  return res.status;
}

// --- (b) alerts: every alert on audit.alerts.v1, matched to its attack by the source address
const attackSentAt = new Map<string, number>(); // ip -> when the attack was sent
const alertLatency = new Map<string, number>(); // ip -> ms
async function followAlerts(): Promise<void> {
  alertConsumer = kafka.consumer({ groupId: `e2e-bench-alerts-${randomUUID()}`, maxWaitTimeInMs: 50 });
  await alertConsumer.connect();
  await alertConsumer.subscribe({ topic: TOPICS.alerts, fromBeginning: true });
  await alertConsumer.run({
    eachMessage: async ({ message }) => {
      const at = performance.now();
      if (!message.value) return;
      const alert = alertCodec.decode(message.value, message.headers as Record<string, Buffer>);
      const ip = alert.keys.ip;
      if (alert.rule !== 'token-tampering' || !ip) return;
      const sent = attackSentAt.get(ip);
      if (sent !== undefined && !alertLatency.has(ip)) alertLatency.set(ip, at - sent);
    },
  });
}

// --- (a) searchable: probes looked for in the search node
const probeSentAt = new Map<string, number>(); // request id -> sent
const probeFound = new Map<string, number>(); // request id -> ms
const probeFoundAt = new Map<string, number>(); // request id -> when found
const probeAnsweredAt = new Map<string, number>(); // request id -> when the edge's answer arrived
async function pollSearch(stopAt: () => boolean): Promise<void> {
  let errors = 0;
  while (!stopAt()) {
    const pending = [...probeSentAt.keys()].filter((id) => !probeFound.has(id));
    const started = performance.now();
    for (let i = 0; i < pending.length; i += 1000) {
      const ids = pending.slice(i, i + 1000);
      try {
        const res = await fetch(`${pipeline.esUrl}/logs-jwt_audit.events-*/_search?ignore_unavailable=true&allow_no_indices=true`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ size: ids.length, _source: ['http.request.id'], query: { terms: { 'http.request.id': ids } } }),
        });
        const body = (await res.json()) as { hits?: { hits?: Array<{ _source?: { http?: { request?: { id?: string } } } }> } };
        // found no later than when this search was sent: the resolution is the poll interval
        for (const h of body.hits?.hits ?? []) {
          const id = h._source?.http?.request?.id;
          const sent = id === undefined ? undefined : probeSentAt.get(id);
          if (id !== undefined && sent !== undefined && !probeFound.has(id)) {
            probeFound.set(id, started - sent);
            probeFoundAt.set(id, started);
          }
        }
      } catch (err) {
        if (++errors % 20 === 1) progress(`search poll failed (${errors} so far): ${(err as Error).message}`);
      }
    }
    await sleep(Math.max(0, opts.pollMs - (performance.now() - started)));
  }
}

// --- (c) revocations: produce one, poll the edge until it refuses the token
async function revocationRound(): Promise<number | undefined> {
  const token = await tokenFor('bob');
  const headers = { authorization: `Bearer ${token}` };
  if ((await get('/api/orders', headers)) !== 200) return undefined;
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string; exp: number };
  const r: Revocation = { target: 'jti', value: claims.jti, revokedAt: Date.now(), expiresAt: claims.exp * 1000, reason: 'e2e-bench', eventId: null };
  const { value, headers: recordHeaders } = revocationCodec.encode(r);
  const produced = performance.now();
  await producer.send(TOPICS.revocations, [{ key: `jti:${claims.jti}`, value, headers: recordHeaders }]);
  for (;;) {
    const status = await get('/api/orders', headers);
    if (status === 401) return performance.now() - produced;
    if (performance.now() - produced > 30_000) return Number.POSITIVE_INFINITY;
    await sleep(5);
  }
}

interface StepResult {
  rate: number;
  seconds: number;
  loadAverage: { before: [number, number, number]; after: [number, number, number] };
  load: PacedResult;
  searchable: Distribution;
  /**
   * the edge's answer -> searchable: the pipeline's own share of (a), without the time a request
   * queued at the edge (a loaded edge answers late, and its event is produced when it answers)
   */
  searchableAfterAnswer: Distribution;
  alert: Distribution;
  revocation: Distribution;
  /** per consumer group: records behind, over the samples taken during the load and the drain */
  lag: Record<string, { p50: number; p99: number; max: number; atLoadEnd: number }>;
  /** seconds from the end of the load until every group had caught up (null: not within --drain) */
  drainSeconds: number | null;
  /** % of one core used by each component during the load (null: it was restarted meanwhile) */
  cpu: Record<string, number | null>;
  /** components restarted during this rate (they exited), by name */
  restarts: Record<string, number>;
  /** seconds from the first request due to the last one answered (the load's nominal length is `seconds`) */
  loadSeconds: number;
}

async function step(rate: number, seconds: number, label: string, measured = true): Promise<StepResult> {
  probeSentAt.clear();
  probeFound.clear();
  probeFoundAt.clear();
  probeAnsweredAt.clear();
  attackSentAt.clear();
  alertLatency.clear();
  const tokens = await Promise.all(['alice', 'bob', 'carol'].map(tokenFor));
  const runId = randomUUID().slice(0, 8);
  const before = load();
  const pids = pipeline.pids();
  const restartsBefore = pipeline.restarts();
  // a component restarted meanwhile has a new process: its CPU is then not known (null)
  const cpuOf = (pid: number): number | undefined => {
    try {
      return cpuMicros(pid);
    } catch {
      return undefined;
    }
  };
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuOf(pid)]));
  const benchCpuBefore = process.cpuUsage();
  const loadStarted = performance.now();
  let loadOver = false;
  let drained = false;

  // the load: every request has an id; one in probeEvery is a probe
  const paced = pacedLoad(
    pipeline.edge,
    rate,
    seconds,
    (i) => ({ path: '/api/orders', headers: { authorization: `Bearer ${tokens[i % tokens.length]}`, 'x-request-id': `e2e-${runId}-${i}` } }),
    {
      onSent: (i, at) => (i % opts.probeEvery === 0 ? void probeSentAt.set(`e2e-${runId}-${i}`, at) : undefined),
      onAnswer: (i) => (i % opts.probeEvery === 0 ? void probeAnsweredAt.set(`e2e-${runId}-${i}`, performance.now()) : undefined),
    },
  );
  const poller = pollSearch(() => drained || (loadOver && probeFound.size >= probeSentAt.size));

  // attacks: 5 per second, each from an address of its own
  let attacks = 0;
  const attacker = (async () => {
    while (!loadOver) {
      const n = attacks++;
      const ip = `10.${77 + (rate % 100)}.${(n >> 8) & 255}.${n & 255}`;
      const now = Math.floor(Date.now() / 1000);
      const forged = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: `e2e-attacker-${runId}-${n}`, scope: 'orders:read', exp: now + 600 })}.`;
      attackSentAt.set(ip, performance.now());
      await get('/api/orders', { authorization: `Bearer ${forged}`, 'x-forwarded-for': ip }).catch(() => undefined);
      await sleep(200);
    }
  })();

  // revocations, one after another
  const revocations: number[] = [];
  const revoker = (async () => {
    while (!loadOver) {
      const ms = await revocationRound().catch(() => undefined);
      if (ms !== undefined) revocations.push(ms);
      await sleep(250);
    }
  })();

  // lag every second, and progress every 5 s
  const lagSamples: LagSample[] = [];
  let atLoadEnd: LagSample | undefined;
  const sampler = (async () => {
    let n = 0;
    while (!drained) {
      const s = await consumerLag(admin).catch(() => undefined);
      if (s) lagSamples.push(s);
      if (++n % 5 === 0) {
        const elapsed = (performance.now() - loadStarted) / 1000;
        const worst = s ? Object.entries(s).sort((a, b) => b[1] - a[1])[0] : undefined;
        progress(
          `${label}: ${loadOver ? 'draining' : `${elapsed.toFixed(0)}/${seconds} s`}, answered ${paced.answered()}, searchable ${probeFound.size}/${probeSentAt.size} probes, ` +
            `alerts ${alertLatency.size}/${attackSentAt.size}, revocations ${revocations.length}, most lag ${worst ? `${worst[0]} ${worst[1]}` : '?'}`,
        );
      }
      await sleep(1000);
    }
  })();

  const result = await paced.done;
  const loadEnded = performance.now();
  loadOver = true;
  const cpu: Record<string, number | null> = Object.fromEntries(
    Object.entries(pids).map(([n, pid]) => {
      const [a, b] = [cpuBefore[n], cpuOf(pid)];
      return [n, a === undefined || b === undefined ? null : Math.round(((b - a) / 1000 / (loadEnded - loadStarted)) * 100)];
    }),
  );
  const benchCpu = process.cpuUsage(benchCpuBefore);
  cpu['load generator + probes (this process)'] = Math.round(((benchCpu.user + benchCpu.system) / 1000 / (loadEnded - loadStarted)) * 100);
  atLoadEnd = await consumerLag(admin).catch(() => undefined);
  await Promise.all([attacker, revoker]);

  // drain: every probe found, every alert in, every group caught up
  let drainSeconds: number | null = null;
  const deadline = loadEnded + opts.drainSeconds * 1000;
  while (performance.now() < deadline) {
    const s = await consumerLag(admin).catch(() => undefined);
    const caughtUp = s !== undefined && Object.values(s).every((v) => v === 0);
    if (caughtUp && drainSeconds === null) drainSeconds = +((performance.now() - loadEnded) / 1000).toFixed(1);
    if (caughtUp && probeFound.size >= probeSentAt.size && alertLatency.size >= attackSentAt.size) break;
    await sleep(250);
  }
  drained = true;
  await Promise.all([poller, sampler]);
  const after = load();
  const groups = new Set(lagSamples.flatMap((s) => Object.keys(s)));
  const lag: StepResult['lag'] = {};
  for (const g of groups) {
    const d = summarize(lagSamples.map((s) => s[g] ?? 0));
    lag[g] = { p50: d.p50 ?? 0, p99: d.p99 ?? 0, max: d.max ?? 0, atLoadEnd: atLoadEnd?.[g] ?? 0 };
  }
  const missing = (sent: Map<string, number>, got: Map<string, number>) => [...sent.keys()].map((k) => got.get(k) ?? Number.POSITIVE_INFINITY);
  const out: StepResult = {
    rate,
    seconds,
    loadAverage: { before, after },
    load: result,
    searchable: summarize(missing(probeSentAt, probeFound)),
    // found before its answer arrived counts as 0: the search saw it as the answer travelled back
    searchableAfterAnswer: summarize(
      [...probeSentAt.keys()].map((id) => {
        const [found, answered] = [probeFoundAt.get(id), probeAnsweredAt.get(id)];
        return found === undefined || answered === undefined ? Number.POSITIVE_INFINITY : Math.max(0, found - answered);
      }),
    ),
    alert: summarize(missing(attackSentAt, alertLatency)),
    revocation: summarize(revocations),
    lag,
    drainSeconds,
    cpu,
    restarts: Object.fromEntries(
      Object.entries(pipeline.restarts())
        .map(([n, r]) => [n, r - (restartsBefore[n] ?? 0)])
        .filter(([, r]) => (r as number) > 0),
    ),
    loadSeconds: +((loadEnded - loadStarted) / 1000).toFixed(1),
  };
  if (measured) progress(`${label}: done: ${line(out)}`);
  return out;
}

const ms = (v: number | null) => (v === null || !Number.isFinite(v) ? 'never' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const dist = (d: Distribution) =>
  d.n === 0 ? 'none' : `p50 ${ms(d.p50)}, p99 ${ms(d.p99)}, max ${ms(d.max)} (n ${d.n}${d.unresolved ? `, ${d.unresolved} never` : ''})`;
function line(r: StepResult): string {
  return `searchable ${dist(r.searchable)}; alert ${dist(r.alert)}; revocation ${dist(r.revocation)}; sent ${r.load.sent} at ${r.load.achievedRate}/s, ${r.load.failed} failed`;
}

const results: StepResult[] = [];
try {
  await admin.connect();
  await producer.connect();
  await followAlerts();
  progress('warm-up: 200 req/s for 5 s (JIT, connections, consumer groups), then its drain');
  await step(200, 5, 'warm-up', false);
  for (const rate of opts.rates) {
    progress(`rate ${rate} req/s for ${opts.duration} s (load average ${load().join(' ')})`);
    results.push(await step(rate, opts.duration, `${rate} req/s`));
  }
} catch (err) {
  failed = true;
  progress(`failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  await alertConsumer?.disconnect().catch(() => undefined);
  await producer.disconnect().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  progress('stopping the pipeline');
  await pipeline.stop();
  if (!failed && !opts.keep) removePipelineDir(pipeline);
  else progress(`data and component logs kept in ${pipeline.dir}`);
}

const met = (d: Distribution, target: number) => d.n > 0 && d.p99 !== null && d.p99 < target;
const summary = {
  bench: 'e2e-latency',
  node: process.version,
  duration: opts.duration,
  probeEvery: opts.probeEvery,
  pollMs: opts.pollMs,
  targets: TARGETS,
  results: results.map((r) => ({
    ...r,
    met: {
      searchable: met(r.searchable, TARGETS.searchableP99Ms),
      alert: met(r.alert, TARGETS.alertP99Ms),
      revocation: met(r.revocation, TARGETS.revocationP99Ms),
    },
  })),
};
if (!opts.json) {
  const rows = [
    `node ${process.version}, ${opts.duration} s per rate, 1 probe in ${opts.probeEvery} requests, search polled every ${opts.pollMs} ms`,
    '| rate (sent/s; s until the last answer) | load avg before / after | HTTP p50 / p99 | request -> searchable | its answer -> searchable | attack -> alert | revocation -> refused | lag max (at load end) | caught up after | CPU % of a core |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.rate} (${r.load.achievedRate}; ${r.loadSeconds} s) | ${r.loadAverage.before[0]} / ${r.loadAverage.after[0]} | ${ms(r.load.http.p50)} / ${ms(r.load.http.p99)} | ${dist(r.searchable)} | ${dist(r.searchableAfterAnswer)} | ${dist(r.alert)} | ${dist(r.revocation)} | ` +
        `${Object.entries(r.lag)
          .map(([g, l]) => `${g} ${l.max} (${l.atLoadEnd})`)
          .join(', ')} | ${r.drainSeconds === null ? `not within ${opts.drainSeconds} s` : `${r.drainSeconds} s`} | ` +
        `${Object.entries(r.cpu)
          .map(([c, p]) => `${c} ${p ?? 'restarted'}`)
          .join(', ')}${
          Object.keys(r.restarts).length > 0
            ? `; restarted: ${Object.entries(r.restarts)
                .map(([c, n]) => `${c} ${n}x`)
                .join(', ')}`
            : ''
        } |`,
    ),
    ...summary.results.map(
      (r) =>
        `${r.rate} req/s: targets searchable p99 < 2 s ${r.met.searchable ? 'met' : 'NOT met'}, alert p99 < 1 s ${r.met.alert ? 'met' : 'NOT met'}, revocation p99 < 1 s ${r.met.revocation ? 'met' : 'NOT met'}`,
    ),
  ];
  process.stdout.write(rows.join('\n') + '\n');
}
process.stdout.write(JSON.stringify(summary, (_k, v) => (v === Number.POSITIVE_INFINITY ? null : v)) + '\n');
process.exit(failed ? 1 : 0);
