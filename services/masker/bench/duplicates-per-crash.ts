/**
 * Duplicates per crash of the masker, at-least-once against transactional, in the same run
 * (crash-harness.ts: N events, the masker process killed with SIGKILL K times mid-load):
 *   npm run bench:crash -w services/masker                  (BENCH_EVENTS=6000, BENCH_KILLS=4, BENCH_RATE=100 events/s: a 60 s load)
 *   npm run bench:crash -w services/masker -- --json        (only the JSON line)
 * Progress on stderr; a table and a JSON line on stdout.
 */
import { runCrashScenario, type CrashResult } from './crash-harness.js';

if (process.argv.includes('--help')) {
  process.stdout.write(
    'npm run bench:crash -w services/masker [-- --json]   env BENCH_EVENTS (6000), BENCH_KILLS (4), BENCH_RATE (100/s); kills are made only while the load runs\n',
  );
  process.exit(0);
}
const json = process.argv.includes('--json');
const events = Number(process.env.BENCH_EVENTS ?? 6_000);
const kills = Number(process.env.BENCH_KILLS ?? 4);
const rate = Number(process.env.BENCH_RATE ?? 100);
const progress = (s: string) => process.stderr.write(`crash bench: ${s}\n`);
const results: CrashResult[] = [];
for (const exactlyOnce of [false, true]) results.push(await runCrashScenario({ exactlyOnce, events, kills, rate, progress }));
if (!json) {
  console.log('| path | events | kill -9 | read (read_committed) | lost | duplicates | per crash | written (aborted included) | time |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results)
    console.log(
      `| ${r.mode} | ${r.events} | ${r.kills} | ${r.readCommitted} | ${r.lost} | ${r.duplicates} | ${r.duplicatesPerCrash} | ${r.written} | ${r.seconds} s |`,
    );
}
console.log(JSON.stringify({ bench: 'masker-duplicates-per-crash', results }));
