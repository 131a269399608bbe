/**
 * Console page load at size: the Search page (server-rendered HTML with the histogram and the
 * newest 50 rows) over N indexed events on the embedded search node, p50 / p95 over repeated
 * loads through HTTP as a browser asks for it. Baseline in the same run: a bare `_search` of the
 * same query through @elastic/elasticsearch (50 rows, total hits, no aggregation), so the figure
 * is read as a ratio on whatever machine runs it.
 *   npm run bench -w services/console             (CONSOLE_BENCH_EVENTS=100000 by default)
 * The search node runs in this process; the console too (one machine, as on npm start).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { startSearchNode } from '@jwt-audit/embedded-search';
import { installTemplates } from '@jwt-audit/indexer';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { defaults } from '../src/config.js';
import { event, indexAll } from '../src/fixtures.js';
import { searchQuery, parseSearchParams } from '../src/search-query.js';
import { createConsoleService } from '../src/service.js';

const N = Number(process.env.CONSOLE_BENCH_EVENTS ?? 100_000);
const LOADS = Number(process.env.CONSOLE_BENCH_LOADS ?? 30);
const logger = createLogger({ name: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const dir = mkdtempSync(path.join(tmpdir(), 'console-bench-'));
const say = (s: string) => process.stderr.write(`${s}\n`);

const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
await ensureTopics(createKafkaClient({ brokers: [broker.address], clientId: 'setup' }, logger), defaultTopics(3));
const search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
const es = new Client({ node: search.url });
await installTemplates(es, logger);
const now = Date.now();
const t0 = now - 86_000_000;
say(`indexing ${N} events over the last 24 h…`);
const started = performance.now();
for (let i = 0; i < N; i += 20_000) {
  const batch = Array.from({ length: Math.min(20_000, N - i) }, (_, j) => {
    const k = i + j;
    const fail = k % 7 === 0;
    return event(fail ? 'token.rejected' : 'token.validated', t0 + Math.floor((k / N) * 86_000_000), { sub: `user${k % 500}`, path: k % 2 ? '/api/orders' : '/api/profile', route: k % 2 ? 'orders' : 'profile', fp: `f${k}`, outcome: fail ? 'failure' : 'success', status: fail ? 401 : 200, ...(fail ? { reason: 'expired' as const } : {}), ip: `198.51.100.${k % 250}` });
  });
  await indexAll(es, 'bench', batch);
  say(`  ${Math.min(N, i + 20_000)} / ${N} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
const svc = createConsoleService({ ...defaults, listen: { host: '127.0.0.1', port: 0 }, elasticsearch: { url: search.url }, kafka: { brokers: [broker.address], clientId: 'console' }, auth: { ...defaults.auth, demoLogin: true } }, { logger, ops: false });
const { url } = await svc.start();
const login = await fetch(`${url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=bench' });
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

const scenarios: [string, string][] = [
  ['last 24 h, no query', 'range=24h'],
  ['last 24 h, event.outcome:failure', `range=24h&q=${encodeURIComponent('event.outcome:failure')}`],
  ['last 24 h, user.id:user7 + route filter', `range=24h&q=${encodeURIComponent('user.id:user7')}&route=orders`],
];
const rows: string[] = [];
for (const [name, qs] of scenarios) {
  const parsed = parseSearchParams(new URLSearchParams(qs), Date.now());
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const query = searchQuery(parsed.params);
  const bare = await time(async () => {
    await es.search({ index: 'logs-jwt_audit.events-*', size: 50, sort: [{ '@timestamp': 'desc' }], query, track_total_hits: true });
  });
  const pageLoad = await time(async () => {
    const r = await fetch(`${url}/search?${qs}`, { headers: { cookie, accept: 'text/html' } });
    if (r.status !== 200) throw new Error(`${r.status}`);
    await r.text();
  });
  rows.push(`| ${name} | ${N} | ${p(pageLoad, 0.5).toFixed(0)} ms | ${p(pageLoad, 0.95).toFixed(0)} ms | ${p(bare, 0.5).toFixed(0)} ms | ${(p(pageLoad, 0.5) / p(bare, 0.5)).toFixed(2)}x |`);
}
process.stdout.write(`| Search page | events | page load p50 | p95 | bare _search p50 (baseline) | page / baseline |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`);
await svc.stop();
await es.close();
await search.close();
await broker.close();
rmSync(dir, { recursive: true, force: true });
