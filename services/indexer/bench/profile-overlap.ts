/**
 * How much the indexer and the search node work at the same time, from the CPU profiles of one
 * bench run (V8 stamps samples with the monotonic clock, shared by the processes of one machine):
 *   BENCH_PROF=<dir> node --cpu-prof --cpu-prof-dir=<dir> --conditions=source --import tsx bench/throughput.ts
 *   node --conditions=source --import tsx bench/profile-overlap.ts <dir>
 * Over the window in which the indexer's sink ran, in 1 ms bins: the share of bins in which each
 * process had a sample that was not idle (it had work: running, or runnable on a busy machine), in
 * which both had, and in which neither had (both waiting, on the broker for instance). Both at once
 * is what a second core can turn into throughput; one request per batch makes the two take turns.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: profile-overlap.ts <dir with the .cpuprofile files of one bench run>\n');
  process.exit(2);
}
// main threads only (the .0. files; the .1. ones are tsx's loader thread)
const profiles = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile') && f.split('.').at(-3) === '0')
  .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Profile);
const calls = (p: Profile, fn: string) => p.nodes.some((n) => n.callFrame.functionName === fn);
const indexer = profiles.find((p) => calls(p, 'indexBatch'));
const node = profiles.find((p) => calls(p, 'writeDoc'));
if (!indexer || !node) {
  process.stderr.write(`${dir}: no profile of the indexer (indexBatch) and of the search node (writeDoc)\n`);
  process.exit(1);
}

/** [time in µs, whether the sample is not idle, whether it is in the indexer's sink] per sample. */
function samples(p: Profile): [number, boolean, boolean][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  let t = p.startTime;
  return p.samples.map((id, i) => {
    t += p.timeDeltas[i]!;
    const frame = byId.get(id)!;
    return [t, frame.functionName !== '(idle)', frame.url.endsWith('services/indexer/src/sink.ts')];
  });
}

const mine = samples(indexer);
const theirs = samples(node);
const sink = mine.filter((s) => s[2]).map((s) => s[0]);
const lo = Math.min(...sink);
const hi = Math.max(...sink);
const bins = Math.floor((hi - lo) / 1000) + 1;
const busy = (ss: [number, boolean, boolean][]) => {
  const b = new Uint8Array(bins);
  for (const [t, working] of ss) if (working && t >= lo && t <= hi) b[Math.floor((t - lo) / 1000)] = 1;
  return b;
};
const a = busy(mine);
const b = busy(theirs);
let both = 0;
let either = 0;
let ia = 0;
let nb = 0;
for (let i = 0; i < bins; i++) {
  ia += a[i]!;
  nb += b[i]!;
  if (a[i] && b[i]) both++;
  if (a[i] || b[i]) either++;
}
const pct = (n: number) => `${Math.round((n / bins) * 100)} %`;
process.stdout.write(
  `window ${bins} ms: the indexer has work ${pct(ia)}, the search node ${pct(nb)}, both at once ${pct(both)}, neither ${pct(bins - either)}\n`,
);
