/**
 * Peak RSS of one detector state fed one located, verified event each for N distinct subjects
 * (BENCH_DISTINCT, default 1,000,000) from distinct IPs, tokens and sessions: the per-subject
 * stores (impossible-travel, new-device, privilege-change, token-multi-origin) each hold N keys.
 * Baseline: RSS of the same process after building the event template, before the state exists.
 * Run with --expose-gc for steadier figures.
 */
import { createDetectorState, detect, stateStats } from '../src/index.js';
import { ev, T0 } from '../src/testdata/events.js';

const n = Number(process.env.BENCH_DISTINCT ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
const template = ev({ geo: [52.52, 13.405] });
gc?.();
const baseline = process.memoryUsage().rss;
let peak = baseline;
const state = createDetectorState({
  rules: Object.fromEntries(
    ['impossible-travel', 'new-device-for-subject', 'privilege-change-in-session', 'token-multi-origin'].map((r) => [r, { maxKeys: Math.max(n, 1) }]),
  ),
});
const t0 = Date.now();
for (let i = 0; i < n; i++) {
  const e = {
    ...template,
    id: `e-${i}`,
    occurredAt: T0 + i,
    actor: { ...template.actor, sub: `user-${i}` },
    token: { ...template.token!, jti: `jti-${i}`, sid: `sess-${i}` },
    network: { ...template.network!, clientIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
    enrichment: { ...template.enrichment!, sessionId: `sess-${i}` },
  };
  detect(state, e, e.occurredAt);
  if ((i & 0xffff) === 0) peak = Math.max(peak, process.memoryUsage().rss);
}
gc?.();
peak = Math.max(peak, process.memoryUsage().rss);
const keys = Object.values(stateStats(state)).reduce((s, x) => s + x.keys, 0);
const mib = (b: number) => (b / 1024 / 1024).toFixed(0);
process.stdout.write(
  `memory-1m-subjects: ${n.toLocaleString('en')} distinct subjects, ${keys.toLocaleString('en')} keys held, ${((Date.now() - t0) / 1000).toFixed(1)} s\n` +
    `  baseline RSS ${mib(baseline)} MiB, peak RSS ${mib(peak)} MiB (${(peak / baseline).toFixed(1)} x baseline), ~${Math.round((peak - baseline) / n)} bytes per subject\n`,
);
