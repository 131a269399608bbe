/**
 * Bulk indexing of ECS audit documents through the official client, and p50/p99 latency of a
 * term query on user.id, a time-range + bool query and a terms aggregation over a day.
 *   npm run bench -w packages/embedded-search           (BENCH_DOCS=200000 by default; 1000000 for the full figure)
 * Baselines in the same run: JSON.parse + JSON.stringify of the same bulk bodies (the least work
 * any bulk endpoint does) and the round trip of `GET /` (the HTTP floor for queries).
 * The node runs in a process of its own (search-node-process.ts), as in the pipeline, where the
 * indexer is another process: RSS is the node's alone, after indexing and at its peak.
 * BENCH_NODE_PROF=<dir> writes a CPU profile of the node process there (node --cpu-prof).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@elastic/elasticsearch';
import { benchDoc } from './bench-docs.js';

const N = Number(process.env.BENCH_DOCS ?? 200_000);
const CHUNK = 5_000;
const Q = Number(process.env.BENCH_QUERIES ?? 100);

const doc = (i: number) => benchDoc(i, N);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function timeIt(fn: () => Promise<unknown>, n = Q): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

type NodeMessage = { type: 'url'; url: string } | { type: 'rss'; rss: number; peakRss: number; heapUsed: number; cpuMicros: number } | { type: 'closed' };
function nextMessage<T extends NodeMessage['type']>(child: ChildProcess, type: T): Promise<Extract<NodeMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: NodeMessage) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as Extract<NodeMessage, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`search node process exited (${code}) before sending ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'esearch-bench-'));
const prof = process.env.BENCH_NODE_PROF;
const child = fork(fileURLToPath(new URL('./search-node-process.ts', import.meta.url)), [dir], {
  execArgv: ['--max-old-space-size=4096', '--expose-gc', '--conditions=source', '--import', 'tsx', ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const { url } = await nextMessage(child, 'url');
const es = new Client({ node: url });
const memory = async () => {
  child.send({ type: 'rss' });
  return nextMessage(child, 'rss');
};
await es.indices.putIndexTemplate({
  name: 'bench',
  index_patterns: ['logs-audit.events-*'],
  data_stream: {},
  priority: 200,
  template: {
    mappings: {
      dynamic: 'true',
      properties: {
        '@timestamp': { type: 'date' },
        user: { properties: { id: { type: 'keyword' } } },
        event: { properties: { action: { type: 'keyword' }, outcome: { type: 'keyword' } } },
        source: { properties: { ip: { type: 'ip' } } },
      },
    },
  },
});

// baseline: parse + serialise the same bulk bodies
let t = process.hrtime.bigint();
for (let i = 0; i < N; i += CHUNK) {
  const lines: string[] = [];
  for (let j = i; j < Math.min(N, i + CHUNK); j++) lines.push(JSON.stringify({ create: { _index: 'x', _id: `ev-${j}` } }), JSON.stringify(doc(j)));
  for (const l of lines) JSON.parse(l);
}
const baselineSecs = Number(process.hrtime.bigint() - t) / 1e9;

const cpuBefore = (await memory()).cpuMicros;
// one bulk in flight while the client builds the next, as a pipelined indexer does: the figure is
// the node's rate, not the sum of the client's and the node's time
t = process.hrtime.bigint();
let inFlight: Promise<void> | undefined;
for (let i = 0; i < N; i += CHUNK) {
  const operations: object[] = [];
  for (let j = i; j < Math.min(N, i + CHUNK); j++) operations.push({ create: { _index: 'logs-audit.events-bench', _id: `ev-${j}` } }, doc(j));
  await inFlight;
  inFlight = es.bulk({ operations }).then((r) => {
    if (r.errors) throw new Error('bulk errors');
  });
  if ((i / CHUNK) % 10 === 0) process.stderr.write(`\rindexed ${i}/${N}`);
}
await inFlight;
const bulkSecs = Number(process.hrtime.bigint() - t) / 1e9;
process.stderr.write('\n');
const mem = await memory();
// CPU the node spent per document: steadier than wall time on a shared machine
const nodeCpuMicrosPerDoc = (mem.cpuMicros - cpuBefore) / N;

const floor = await timeIt(() => es.info());
const term = await timeIt(() => es.search({ index: 'logs-audit*', query: { term: { 'user.id': `user-${Math.floor(Math.random() * 5000)}` } } }));
const rangeBool = await timeIt(
  () =>
    es.search({
      index: 'logs-audit*',
      query: {
        bool: { filter: [{ range: { '@timestamp': { gte: '2026-11-21T00:00:00Z', lt: '2026-11-21T01:00:00Z' } } }, { term: { 'event.outcome': 'failure' } }] },
      },
    }),
  Math.max(10, Q / 4),
);
const agg = await timeIt(
  () =>
    es.search({
      index: 'logs-audit*',
      size: 0,
      query: { range: { '@timestamp': { gte: '2026-11-21T00:00:00Z', lt: '2026-11-22T00:00:00Z' } } },
      aggs: { actions: { terms: { field: 'event.action' } } },
    }),
  Math.max(5, Q / 10),
);

child.send({ type: 'close' });
await nextMessage(child, 'closed');
rmSync(dir, { recursive: true, force: true });

const lat = (name: string, xs: number[]) => ({
  name,
  p50ms: +pct(xs, 50).toFixed(2),
  p99ms: +pct(xs, 99).toFixed(2),
  p50OfFloor: +(pct(xs, 50) / pct(floor, 50)).toFixed(1),
});
const result = {
  bench: 'embedded-search',
  docs: N,
  bulk: {
    docsPerSec: Math.round(N / bulkSecs),
    baselineDocsPerSec: Math.round(N / baselineSecs),
    ofBaseline: +(baselineSecs / bulkSecs).toFixed(3),
    rssMb: Math.round(mem.rss / 2 ** 20),
    peakRssMb: Math.round(mem.peakRss / 2 ** 20),
    rssBytesPerDoc: Math.round(mem.rss / N),
    nodeCpuMicrosPerDoc: +nodeCpuMicrosPerDoc.toFixed(1),
    baselineCpuMicrosPerDoc: +((baselineSecs * 1e6) / N).toFixed(1),
  },
  queries: [lat('GET / (floor)', floor), lat('term user.id', term), lat('time range (1 h) + bool', rangeBool), lat('terms agg over a day', agg)],
};
console.log(
  `docs=${N}: bulk ${result.bulk.docsPerSec} docs/s (${result.bulk.ofBaseline}x JSON parse of the same bodies, ${result.bulk.baselineDocsPerSec} docs/s), node RSS ${result.bulk.rssMb} MiB after indexing and a GC (${result.bulk.rssBytesPerDoc} bytes/doc), peak ${result.bulk.peakRssMb} MiB; node CPU ${result.bulk.nodeCpuMicrosPerDoc} µs/doc (baseline ${result.bulk.baselineCpuMicrosPerDoc} µs/doc)`,
);
for (const q of result.queries) console.log(`${q.name.padEnd(26)} p50 ${q.p50ms} ms  p99 ${q.p99ms} ms  (${q.p50OfFloor}x the HTTP floor)`);
console.log(JSON.stringify(result));
