/**
 * Events/s through detect() with every rule on, against a pass-through loop over the same events
 * (reads the partition key and the fields every rule keys on) in the same run.
 * Scale: BENCH_SUBJECTS (default 1000), BENCH_ROUNDS (default 3).
 */
import { partitionKey } from '@jwt-audit/events';
import { createDetectorState, detect, generateScenario } from '../src/index.js';

const subjects = Number(process.env.BENCH_SUBJECTS ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const scenario = generateScenario({ subjects, seed: 1 });
const events = scenario.events;

function passThrough(): number {
  let h = 0;
  for (const e of events) h += partitionKey(e).length + (e.token?.jti?.length ?? 0) + (e.network?.clientIp?.length ?? 0);
  return h;
}

function detector(): number {
  const state = createDetectorState();
  let n = 0;
  for (const e of events) n += detect(state, e, e.occurredAt).alerts.length;
  return n;
}

function measure(fn: () => number): number {
  const t0 = process.hrtime.bigint();
  fn();
  return events.length / (Number(process.hrtime.bigint() - t0) / 1e9);
}

measure(passThrough);
measure(detector); // warm-up
let base = 0;
let det = 0;
for (let i = 0; i < rounds; i++) {
  base = Math.max(base, measure(passThrough));
  det = Math.max(det, measure(detector));
}
process.stdout.write(
  `detector-throughput: ${events.length} events, ${subjects} subjects, best of ${rounds}\n` +
    `  pass-through  ${Math.round(base).toLocaleString('en')} events/s (baseline)\n` +
    `  all rules     ${Math.round(det).toLocaleString('en')} events/s (${(det / base).toFixed(3)} x baseline)\n`,
);
