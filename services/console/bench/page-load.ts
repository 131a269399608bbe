/**
 * Console page load at size (issue #19: "page loads stay under 300 ms for a search over 1M events
 * on the embedded node at p50"): the Search page (server-rendered HTML with the histogram, the
 * total and the newest 50 rows) over N indexed events, p50 / p95 over repeated loads through HTTP
 * as a browser asks for it. Baselines in the same run, so the figures read as ratios on whatever
 * machine runs them: the bare round trip of the console's `GET /` (its HTTP floor: a redirect, no
 * index read), and a bare `_search` of the same query through @elastic/elasticsearch (50 rows and
 * an exact total, no aggregation: what any page showing these rows costs at least), and what the
 * page asked before it asked only what it shows (that search with the histogram in one request; for
 * all time the min/max bounds, which came first): the ratio to it is the gain.
 *   npm run bench -w services/console                  (CONSOLE_BENCH_EVENTS=100000 by default)
 *   CONSOLE_BENCH_EVENTS=1000000 CONSOLE_BENCH_DIR=/tmp/console-1m npm run bench -w services/console
 * CONSOLE_BENCH_DIR keeps the indexed events for the next run (indexing 1M takes a while; the node
 * reloads them from disk). The search node runs in a process of its own (bench/search-node.ts);
 * the console and the broker for its audit.access events run in this one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client } from '@elastic/elasticsearch';
import { toEcsDocument, withIndexTimes } from '@jwt-audit/ecs';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { installTemplates } from '@jwt-audit/indexer';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { defaults } from '../src/config.js';
import { event } from '../src/fixtures.js';
import { parseSearchParams, searchQuery } from '../src/search-query.js';
import { createConsoleService } from '../src/service.js';

const N = Number(process.env.CONSOLE_BENCH_EVENTS ?? 100_000);
const LOADS = Number(process.env.CONSOLE_BENCH_LOADS ?? 30);
const CHUNK = 5_000;
const SPAN = 86_000_000; // the events cover about a day
const logger = createLogger({ name: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const keep = process.env.CONSOLE_BENCH_DIR;
const dir = keep ?? mkdtempSync(path.join(tmpdir(), 'console-bench-'));
mkdirSync(dir, { recursive: true });
const say = (s: string) => process.stderr.write(`${s}\n`);
const metaFile = path.join(dir, 'bench-meta.json');
const meta = existsSync(metaFile) ? (JSON.parse(readFileSync(metaFile, 'utf8')) as { events: number; t0: number }) : undefined;
const reuse = meta?.events === N;
if (!reuse) for (const d of ['search', 'kafka']) rmSync(path.join(dir, d), { recursive: true, force: true });
const t0 = reuse ? meta.t0 : Date.now() - SPAN;

function nextMessage(child: ChildProcess, type: string): Promise<{ type: string; url?: string }> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string; url?: string }) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`search node process exited (${code}) before sending ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const loadStarted = performance.now();
const child = fork(fileURLToPath(new URL('./search-node.ts', import.meta.url)), [path.join(dir, 'search')], {
  // CONSOLE_BENCH_NODE_PROF=<dir>: a CPU profile of the search node (written when it closes)
  execArgv: [
    '--max-old-space-size=8192',
    '--conditions=source',
    '--import',
    'tsx',
    ...(process.env.CONSOLE_BENCH_NODE_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CONSOLE_BENCH_NODE_PROF}`] : []),
  ],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const esUrl = (await nextMessage(child, 'url')).url!;
const es = new Client({ node: esUrl, requestTimeout: 600_000 });
if (reuse) say(`reusing ${N} events in ${dir} (node started in ${((performance.now() - loadStarted) / 1000).toFixed(0)} s)`);
else {
  await installTemplates(es, logger);
  say(`indexing ${N} events over a day…`);
  const started = performance.now();
  const indexTime = new Date().toISOString();
  const body = (from: number) => {
    const ops: object[] = [];
    for (let k = from; k < Math.min(N, from + CHUNK); k++) {
      const fail = k % 7 === 0;
      const e = event(fail ? 'token.rejected' : 'token.validated', t0 + Math.floor((k / N) * SPAN), {
        sub: `user${k % 500}`,
        path: k % 2 ? '/api/orders' : '/api/profile',
        route: k % 2 ? 'orders' : 'profile',
        fp: `f${k}`,
        outcome: fail ? 'failure' : 'success',
        status: fail ? 401 : 200,
        ...(fail ? { reason: 'expired' as const } : {}),
        ip: `198.51.100.${k % 250}`,
      });
      ops.push({ create: { _index: 'logs-jwt_audit.events-bench', _id: e.id } }, withIndexTimes(toEcsDocument(e), indexTime));
    }
    return ops;
  };
  // two bulk requests in flight: the node parses one while the next is built and sent
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < N) {
      const from = next;
      next += CHUNK;
      const r = await es.bulk({ operations: body(from), refresh: false });
      if (r.errors) throw new Error(`bulk: ${JSON.stringify(r.items.find((x) => Object.values(x)[0]?.error))}`);
      done += r.items.length;
      if (done % 50_000 < CHUNK)
        say(`  ${done} / ${N} (${((performance.now() - started) / 1000).toFixed(0)} s, ${(done / ((performance.now() - started) / 1000)).toFixed(0)} docs/s)`);
    }
  };
  await Promise.all([worker(), worker()]);
  await es.indices.refresh({ index: 'logs-jwt_audit.*' });
  writeFileSync(metaFile, JSON.stringify({ events: N, t0 }));
  say(`indexed ${N} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
await ensureTopics(createKafkaClient({ brokers: [broker.address], clientId: 'setup' }, logger), defaultTopics(3));
const svc = createConsoleService(
  {
    ...defaults,
    listen: { host: '127.0.0.1', port: 0 },
    elasticsearch: { url: esUrl },
    kafka: { brokers: [broker.address], clientId: 'console' },
    auth: { ...defaults.auth, demoLogin: true },
  },
  { logger, ops: false },
);
const { url } = await svc.start();
const login = await fetch(`${url}/login`, {
  method: 'POST',
  redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: 'name=bench',
});
const cookie = login.headers.get('set-cookie')!.split(';')[0]!;

const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
async function time(fn: () => Promise<void>): Promise<number[]> {
  await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const s = performance.now();
    await fn();
    out.push(performance.now() - s);
  }
  return out;
}

// the day the events cover, as a user brushes or types it (from/to), and the preset over it
const day = `from=${new Date(t0).toISOString()}&to=${new Date(t0 + SPAN).toISOString()}`;
const scenarios: [string, string][] = [
  ['the whole day, no query', day],
  ['the whole day, `event.outcome:failure`', `${day}&q=${encodeURIComponent('event.outcome:failure')}`],
  ['the whole day, `user.id:user7` + route filter', `${day}&q=${encodeURIComponent('user.id:user7')}&route=orders`],
  ['all time (bounds found first), no query', 'range=all'],
];
const floor = await time(async () => {
  const r = await fetch(`${url}/`, { redirect: 'manual' });
  await r.arrayBuffer();
});
const rows: string[] = [];
for (const [name, qs] of scenarios) {
  const parsed = parseSearchParams(new URLSearchParams(qs), Date.now());
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const query = searchQuery(parsed.params);
  const bare = await time(async () => {
    await es.search({ index: 'logs-jwt_audit.events-*', size: 50, sort: [{ '@timestamp': 'desc' }], query, track_total_hits: true });
  });
  // what the page asked before (one search: full rows, an exact total, the histogram), run as a baseline in the same run
  const span = parsed.params.from !== undefined && parsed.params.to !== undefined ? { from: parsed.params.from, to: parsed.params.to } : undefined;
  const former = await time(async () => {
    await es.search({
      index: 'logs-jwt_audit.events-*',
      size: 50,
      sort: [{ '@timestamp': 'desc' }],
      query,
      track_total_hits: true,
      ...(span
        ? {
            aggs: {
              over_time: {
                date_histogram: { field: '@timestamp', fixed_interval: '1800s', min_doc_count: 0, extended_bounds: { min: span.from, max: span.to } },
              },
            },
          }
        : { aggs: { lo: { min: { field: '@timestamp' } }, hi: { max: { field: '@timestamp' } } } }),
    });
  });
  let total = '';
  const pageLoad = await time(async () => {
    const r = await fetch(`${url}/search?${qs}`, { headers: { cookie, accept: 'text/html' } });
    if (r.status !== 200) throw new Error(`${r.status}: ${(await r.text()).slice(0, 300)}`);
    total = /id="total">([^<]*)</.exec(await r.text())?.[1] ?? '?';
  });
  rows.push(
    `| ${name} | ${N.toLocaleString('en')} | ${total} | ${p(pageLoad, 0.5).toFixed(0)} ms | ${p(pageLoad, 0.95).toFixed(0)} ms | ${(p(pageLoad, 0.5) / p(floor, 0.5)).toFixed(0)}x | ${p(bare, 0.5).toFixed(0)} ms | ${(p(pageLoad, 0.5) / p(bare, 0.5)).toFixed(2)}x | ${p(former, 0.5).toFixed(0)} ms | ${(p(pageLoad, 0.5) / p(former, 0.5)).toFixed(2)}x |`,
  );
  say(rows[rows.length - 1]!);
}
process.stdout.write(
  `GET / round trip p50 ${p(floor, 0.5).toFixed(1)} ms\n| Search page | events | matching | page load p50 | p95 | page / GET / | bare _search p50 | page / bare _search | former page request p50 | page / former |\n|---|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
await svc.stop();
await es.close();
child.send({ type: 'close' });
await nextMessage(child, 'closed').catch(() => undefined);
await broker.close();
if (!keep) rmSync(dir, { recursive: true, force: true });
