/**
 * Same-process A/B of mask(): a baseline createMasker (another version of packages/masking's
 * mask.ts, copied beside it so its imports resolve) against the current one, in alternating
 * rounds of fresh bench events: CPU µs per event and heap bytes allocated per event (heapUsed
 * growth with results kept and a young generation large enough that no GC runs in a round).
 *
 *   git show <commit>:packages/masking/src/mask.ts > packages/masking/src/mask-baseline.ts
 *   node --expose-gc --max-semi-space-size=256 --conditions=source --import tsx services/masker/bench/mask-ab.ts
 *   rm packages/masking/src/mask-baseline.ts
 * (BENCH_EVENTS=4000 per round for CPU, BENCH_ROUNDS=16; prints medians and every round's ratio)
 */
import { eventCodec, type AuditEvent } from '@jwt-audit/events';
import { createMasker, DEFAULT_POLICY } from '@jwt-audit/masking';
import { rawEvent } from '../../../scripts/lib/stage-bench.js';

const N = Number(process.env.BENCH_EVENTS ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 16);
const MEM_EVENTS = 2000;
const KEY = { id: 'bench', secret: 'bench-key-0123456789abcdef' };
const baselineUrl = new URL('../../../packages/masking/src/mask-baseline.ts', import.meta.url).href;
const { createMasker: baseline } = (await import(baselineUrl)) as { createMasker: typeof createMasker };

const maskers = { baseline: baseline(DEFAULT_POLICY, KEY), candidate: createMasker(DEFAULT_POLICY, KEY) };
type Name = keyof typeof maskers;
let next = 0;
const fresh = (n: number): AuditEvent[] =>
  Array.from({ length: n }, () => {
    const e = eventCodec.encode(rawEvent(next++));
    return eventCodec.decode(e.value, e.headers);
  });
for (const m of Object.values(maskers)) for (const e of fresh(N)) m.mask(e);

const cpu: Record<Name, number[]> = { baseline: [], candidate: [] };
const bytes: Record<Name, number[]> = { baseline: [], candidate: [] };
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const order: Name[] = r % 2 === 0 ? ['baseline', 'candidate'] : ['candidate', 'baseline'];
  for (const name of order) {
    const events = fresh(N);
    const out: AuditEvent[] = new Array(N);
    const c = process.cpuUsage();
    for (let i = 0; i < N; i++) out[i] = maskers[name].mask(events[i]!);
    const d = process.cpuUsage(c);
    cpu[name].push((d.user + d.system) / N);
    const more = fresh(MEM_EVENTS);
    const kept: AuditEvent[] = new Array(MEM_EVENTS);
    (globalThis as { gc?: () => void }).gc?.();
    const h = process.memoryUsage().heapUsed;
    for (let i = 0; i < MEM_EVENTS; i++) kept[i] = maskers[name].mask(more[i]!);
    bytes[name].push((process.memoryUsage().heapUsed - h) / MEM_EVENTS);
  }
  ratios.push(cpu.candidate[r]! / cpu.baseline[r]!);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const result = {
  bench: 'mask-ab',
  events: N,
  rounds: ROUNDS,
  cpuUsPerEvent: { baseline: +median(cpu.baseline).toFixed(1), candidate: +median(cpu.candidate).toFixed(1) },
  cpuRatioMedian: +median(ratios).toFixed(3),
  cpuRatios: ratios.map((x) => +x.toFixed(2)),
  bytesPerEvent: { baseline: Math.round(median(bytes.baseline)), candidate: Math.round(median(bytes.candidate)) },
};
process.stdout.write(`${JSON.stringify(result)}\n`);
