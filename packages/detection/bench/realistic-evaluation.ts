/**
 * The realistic evaluation: generates the corpus (bench/realistic/corpus.ts: simulated people,
 * service clients and labelled attacks through the project's own edge, masking and enrichment
 * code), runs every rule with default settings and prints precision, recall per rule, false
 * alerts per day and per benign cohort, and the delay per attack.
 * Scale: EVAL_PEOPLE (default 290), EVAL_DAYS (default 3, day 0 is learning), EVAL_SEED (default 7).
 * EVAL_FALSE=n also prints n false alerts (rule, severity, description) to look at.
 */
import { generateCorpus } from './realistic/corpus.js';
import { formatReport, runDetector, score } from './realistic/score.js';

const t0 = process.hrtime.bigint();
const corpus = await generateCorpus({
  people: Number(process.env.EVAL_PEOPLE ?? 290),
  days: Number(process.env.EVAL_DAYS ?? 3),
  seed: Number(process.env.EVAL_SEED ?? 7),
});
const t1 = process.hrtime.bigint();
const alerts = runDetector(corpus);
const report = score(corpus, alerts);
process.stdout.write(
  `${formatReport(report)}\n  (corpus generated in ${(Number(t1 - t0) / 1e9).toFixed(1)} s, detector ran in ${(Number(process.hrtime.bigint() - t1) / 1e9).toFixed(1)} s)\n`,
);
const showFalse = Number(process.env.EVAL_FALSE ?? 0);
for (const a of report.falseAlerts.slice(0, showFalse))
  process.stdout.write(`  false: ${a.rule} ${a.severity} ${a.description} ${JSON.stringify(a.attributes)}\n`);
