/**
 * The indexing path alone, in process: JSON.parse of each bulk document line and IndexEngine.index,
 * the sources then handed to the store as the bulk handler does (sourceStored), on the documents of
 * bulk-and-query.ts. Reports CPU per document and what the engine holds per document after a full
 * GC (V8 heap and typed arrays), steadier than the cross-process bench's RSS on a shared machine.
 *   node --expose-gc --conditions=source --import tsx packages/embedded-search/bench/index-memory.ts
 * BENCH_DOCS (default 200000); BENCH_ENGINE=<path of another engine/index.ts> measures that copy
 * instead (a baseline extracted with `git archive <commit> packages/embedded-search/src | tar -x -C
 * <dir>` beside a node_modules link), so a baseline and a candidate run alternately in one window.
 */
import { benchDoc } from './bench-docs.js';

const N = Number(process.env.BENCH_DOCS ?? 200_000);
const CHUNK = 5_000;
type Engine = {
  index(id: string, source: Record<string, unknown>, meta: { seqNo: number; version: number }, text?: string): void;
  sourceStored(n: number, pos: number, len: number, reader: (pos: number, len: number) => string): void;
  termDocs(field: string, term: string): number[] | undefined;
};
const { IndexEngine } = (await import(process.env.BENCH_ENGINE ?? '../src/engine/index.js')) as {
  IndexEngine: new (mappings: Record<string, unknown>) => Engine;
};
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const doc = (i: number) => benchDoc(i, N);

const engine = new IndexEngine({
  dynamic: 'true',
  properties: {
    '@timestamp': { type: 'date' },
    user: { properties: { id: { type: 'keyword' } } },
    event: { properties: { action: { type: 'keyword' }, outcome: { type: 'keyword' } } },
    source: { properties: { ip: { type: 'ip' } } },
  },
});
const reader = () => '{}';
gc();
const before = process.memoryUsage();
let cpuMicros = 0;
for (let i = 0; i < N; i += CHUNK) {
  const end = Math.min(N, i + CHUNK);
  const lines: string[] = [];
  const ids: string[] = [];
  for (let j = i; j < end; j++) {
    lines.push(JSON.stringify(doc(j)));
    ids.push(JSON.parse(JSON.stringify({ _id: `ev-${j}` }))._id);
  }
  const t = process.cpuUsage();
  for (let k = 0; k < lines.length; k++) engine.index(ids[k]!, JSON.parse(lines[k]!), { seqNo: i + k, version: 1 }, lines[k]);
  for (let k = 0; k < lines.length; k++) engine.sourceStored(i + k, 0, 2, reader);
  const d = process.cpuUsage(t);
  cpuMicros += d.user + d.system;
}
gc();
const after = process.memoryUsage();
// a lookup per unique-valued field, so nothing above was optimised away
if (engine.termDocs('jwt.jti.keyword', 'jti-7')?.[0] !== 7) throw new Error('jti-7 not indexed');
const heap = after.heapUsed - before.heapUsed;
const buffers = after.arrayBuffers - before.arrayBuffers;
console.log(
  JSON.stringify({
    bench: 'embedded-search index-memory',
    engine: process.env.BENCH_ENGINE ?? 'this package',
    docs: N,
    cpuMicrosPerDoc: +(cpuMicros / N).toFixed(1),
    heapBytesPerDoc: Math.round(heap / N),
    typedArrayBytesPerDoc: Math.round(buffers / N),
    heldBytesPerDoc: Math.round((heap + buffers) / N),
    rssMb: Math.round(after.rss / 2 ** 20),
  }),
);
