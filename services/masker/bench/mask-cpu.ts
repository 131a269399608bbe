/**
 * CPU per event of the stage's in-process work, without Kafka: decode, mask, encode of the events
 * the throughput bench sends (µs per event, best of several rounds; no ratios needed since no I/O
 * is involved), and what the detectors cost inside mask(), by family.
 *
 * Every round masks events it has not seen before (new ids, query tokens, order numbers), as the
 * stage does: re-masking the same decoded objects would answer from the masker's caches (the
 * pseudonym of a value already seen, a repeated header) and understate the work.
 *
 *   npm run bench:cpu -w services/masker       (BENCH_EVENTS=20000, BENCH_ROUNDS=5 by default)
 * For profiling: node --cpu-prof --conditions=source --import tsx bench/mask-cpu.ts
 */
import { eventCodec, type AuditEvent } from '@jwt-audit/events';
import { createMasker, DEFAULT_POLICY, DETECTOR_NAMES, type MaskingPolicy } from '@jwt-audit/masking';
import { rawEvent } from '../../../scripts/lib/stage-bench.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const KEY = { id: 'bench', secret: 'bench-key-0123456789abcdef' };

/** The detectors by family: what each costs is mask() with that family minus mask() with none. */
const TOKENS = DETECTOR_NAMES.filter((d) => !['email', 'iban', 'credit-card', 'us-ssn', 'phone'].includes(d));
const PERSONAL = DETECTOR_NAMES.filter((d) => !TOKENS.includes(d));
const only = (names: string[]): MaskingPolicy => ({ ...DEFAULT_POLICY, detectors: Object.fromEntries(names.map((n) => [n, DEFAULT_POLICY.detectors[n]!])) });

let next = 0;
/** N events never produced before, encoded as the masker reads them. */
const freshBatch = () => Array.from({ length: N }, () => eventCodec.encode(rawEvent(next++)));

const cpu = (fn: () => void): number => {
  const c = process.cpuUsage();
  fn();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / N;
};
const best = (xs: number[]) => +Math.min(...xs).toFixed(1);

const decode: number[] = [];
const encode: number[] = [];
const all: number[] = [];
const maskers = {
  mask: createMasker(DEFAULT_POLICY, KEY),
  noDetectors: createMasker(only([]), KEY),
  tokenDetectors: createMasker(only(TOKENS), KEY),
  personalDetectors: createMasker(only(PERSONAL), KEY),
};
const maskTimes: Record<keyof typeof maskers, number[]> = { mask: [], noDetectors: [], tokenDetectors: [], personalDetectors: [] };

for (let r = 0; r < ROUNDS; r++) {
  const batch = freshBatch();
  let decoded: AuditEvent[] = [];
  decode.push(cpu(() => (decoded = batch.map((e) => eventCodec.decode(e.value, e.headers)))));
  let masked: AuditEvent[] = [];
  maskTimes.mask.push(cpu(() => (masked = decoded.map((e) => maskers.mask.mask(e)))));
  encode.push(cpu(() => masked.forEach((e) => eventCodec.encode(e))));
  for (const name of ['noDetectors', 'tokenDetectors', 'personalDetectors'] as const) {
    const events = freshBatch().map((e) => eventCodec.decode(e.value, e.headers));
    maskTimes[name].push(cpu(() => events.forEach((e) => maskers[name].mask(e))));
  }
  const stage = freshBatch();
  all.push(cpu(() => stage.forEach((e) => eventCodec.encode(maskers.mask.mask(eventCodec.decode(e.value, e.headers))))));
}

const m = Object.fromEntries(Object.entries(maskTimes).map(([k, v]) => [k, best(v)])) as Record<keyof typeof maskers, number>;
const result = {
  bench: 'masker-cpu',
  events: N,
  rounds: ROUNDS,
  usPerEvent: {
    decode: best(decode),
    mask: m.mask,
    encode: best(encode),
    decodeMaskEncode: best(all),
    // mask() without any detector: key-word rules, shapes, bodies, the encoded-run scan
    maskWithoutDetectors: m.noDetectors,
    detectors: {
      all: +(m.mask - m.noDetectors).toFixed(1),
      tokens: +(m.tokenDetectors - m.noDetectors).toFixed(1),
      personal: +(m.personalDetectors - m.noDetectors).toFixed(1),
    },
  },
};
process.stdout.write(`${JSON.stringify(result)}\n`);
