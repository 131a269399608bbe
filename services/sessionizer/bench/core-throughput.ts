/**
 * Events/s through the sessionizer's core (apply per event; per batch of 500 the drain of changed
 * summaries and the journal line as JSON, which the service writes), against decoding the same
 * events from Avro (what the service does to every record before) in the same run. The events are
 * the detection package's generated scenario (a day of many subjects, sessions, attacks).
 * Scale: BENCH_SUBJECTS (default 1000), BENCH_ROUNDS (default 3).
 */
import { eventCodec } from '@jwt-audit/events';
import { generateScenario } from '@jwt-audit/detection';
import { apply, createSessionState, DEFAULT_RULES, drainChanges, tick } from '../src/sessionize.js';
import { snapshotOf } from '../src/sessionize.js';

const subjects = Number(process.env.BENCH_SUBJECTS ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const events = generateScenario({ subjects, seed: 1 }).events;
const encoded = events.map((e) => eventCodec.encode(e));
const ctx = { rules: DEFAULT_RULES, instance: 'bench' };
const BATCH = 500;

function decode(): number {
  let n = 0;
  for (const r of encoded) n += eventCodec.decode(r.value, r.headers).kind.length;
  return n;
}

let lastState = createSessionState();
function sessionize(): number {
  const state = createSessionState();
  let bytes = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    apply(state, e, e.occurredAt, ctx);
    if (i % BATCH === BATCH - 1) {
      tick(state, e.occurredAt, ctx);
      bytes += JSON.stringify(drainChanges(state).changes).length;
    }
  }
  lastState = state;
  return bytes;
}

function measure(fn: () => number): number {
  const t0 = process.hrtime.bigint();
  fn();
  return events.length / (Number(process.hrtime.bigint() - t0) / 1e9);
}

measure(decode);
measure(sessionize); // warm-up
let base = 0;
let ses = 0;
for (let i = 0; i < rounds; i++) {
  base = Math.max(base, measure(decode));
  ses = Math.max(ses, measure(sessionize));
}
const sessions = [...lastState.sessions.values()];
process.stdout.write(
  `sessionizer core-throughput: ${events.length} events, ${subjects} subjects, best of ${rounds}\n` +
    `  Avro decode   ${Math.round(base).toLocaleString('en')} events/s (baseline)\n` +
    `  sessionize    ${Math.round(ses).toLocaleString('en')} events/s (${(ses / base).toFixed(2)} x baseline)\n` +
    `  state at the end: ${sessions.length} sessions (${sessions.filter((s) => s.summary.endedAt === null).length} open), snapshot ${(JSON.stringify(snapshotOf(lastState)).length / 1024 / 1024).toFixed(1)} MiB\n`,
);
