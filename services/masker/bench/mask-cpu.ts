/**
 * CPU per event of the stage's in-process work, without Kafka: decode, mask, encode of the same
 * events the throughput bench sends (µs per event, best of several rounds; no ratios needed since
 * no I/O is involved). For profiling: node --cpu-prof --conditions=source --import tsx bench/mask-cpu.ts
 *   npm run bench:cpu -w services/masker       (BENCH_EVENTS=20000, BENCH_ROUNDS=5 by default)
 */
import { eventCodec, type AuditEvent } from '@jwt-audit/events';
import { createMasker, DEFAULT_POLICY } from '@jwt-audit/masking';
import { rawEvent } from '../../../scripts/lib/stage-bench.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const encoded = Array.from({ length: N }, (_, i) => eventCodec.encode(rawEvent(i)));
const masker = createMasker(DEFAULT_POLICY, { id: 'bench', secret: 'bench-key-0123456789abcdef' });

function time(fn: (e: { value: Buffer; headers: Record<string, string> }) => unknown): number {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const c = process.cpuUsage();
    for (const e of encoded) fn(e);
    const d = process.cpuUsage(c);
    best = Math.min(best, (d.user + d.system) / N);
  }
  return +best.toFixed(1);
}

const decoded: AuditEvent[] = encoded.map((e) => eventCodec.decode(e.value, e.headers));
let i = 0;
const decode = time((e) => eventCodec.decode(e.value, e.headers));
i = 0;
const maskOnly = time(() => masker.mask(decoded[i++ % N]!));
i = 0;
const masked = decoded.map((e) => masker.mask(e));
const encode = time(() => eventCodec.encode(masked[i++ % N]!));
const all = time((e) => eventCodec.encode(masker.mask(eventCodec.decode(e.value, e.headers))));
process.stdout.write(`${JSON.stringify({ bench: 'masker-cpu', events: N, usPerEvent: { decode, mask: maskOnly, encode, decodeMaskEncode: all } })}\n`);
