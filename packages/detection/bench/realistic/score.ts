import type { Alert } from '@jwt-audit/events';
import { advance, createDetectorState, detect, type DetectorOptions } from '../../src/index.js';
import type { AttackLabel, Corpus } from './corpus.js';

/**
 * Scores the detector on a corpus with its default settings (or the options given). Alerts whose
 * last event falls in the learning days are not scored. An alert is true when its evidence cites
 * an attack's event; an attack is found when an alert of a rule meant for it cites one of its
 * events (delay: from the attack's first event to that alert's last event).
 */

export interface RuleReport {
  rule: string;
  alerts: number;
  truePositives: number;
  falsePositives: number;
  precision: number;
  claimed: number;
  found: number;
  recall: number;
  falsePerDay: number;
}
export interface Report {
  events: number;
  scoredDays: number;
  alerts: number;
  truePositives: number;
  precision: number;
  highCritical: { alerts: number; truePositives: number; precision: number };
  attacks: number;
  foundByOwnRule: number;
  foundByAnyRule: number;
  recall: number;
  falsePerDay: number;
  falsePer1000SubjectsPerDay: number;
  rules: RuleReport[];
  cohorts: Array<{ cohort: string; falseAlerts: number; byRule: Record<string, number> }>;
  perAttack: Array<{ id: string; rules: string[]; found: boolean; byAnyRule: boolean; delayMs: number | null; firedRules: string[] }>;
  falseAlerts: Alert[];
}

export function runDetector(corpus: Corpus, options: DetectorOptions = {}): Alert[] {
  const state = createDetectorState(options);
  const alerts: Alert[] = [];
  for (const e of corpus.events) alerts.push(...detect(state, e, e.occurredAt).alerts);
  alerts.push(...advance(state, corpus.end + 86_400_000, corpus.end + 86_400_000));
  return alerts;
}

export function score(corpus: Corpus, all: Alert[]): Report {
  const scoredFrom = corpus.start + corpus.learningDays * 86_400_000;
  const scoredDays = corpus.days - corpus.learningDays;
  const alerts = all.filter((a) => a.lastSeen >= scoredFrom);
  const attackOf = new Map<string, AttackLabel>();
  for (const a of corpus.attacks) for (const id of a.eventIds) attackOf.set(id, a);
  const found = new Map<AttackLabel, number>();
  const fired = new Map<AttackLabel, Set<string>>();
  const byRule = new Map<string, { alerts: number; tp: number }>();
  const cohortFalse = new Map<string, Map<string, number>>();
  const falseAlerts: Alert[] = [];
  let tp = 0;
  let hc = 0;
  let hcTp = 0;
  for (const a of alerts) {
    const r = byRule.get(a.rule) ?? { alerts: 0, tp: 0 };
    byRule.set(a.rule, r);
    r.alerts++;
    const high = a.severity === 'high' || a.severity === 'critical';
    if (high) hc++;
    const hits = new Set(a.evidence.map((id) => attackOf.get(id)).filter((x): x is AttackLabel => x !== undefined));
    if (hits.size === 0) {
      falseAlerts.push(a);
      const tags = new Set(a.evidence.flatMap((id) => corpus.cohorts.get(id) ?? []));
      if (tags.size === 0) tags.add('(untagged)');
      for (const t of tags) {
        const m = cohortFalse.get(t) ?? new Map<string, number>();
        cohortFalse.set(t, m);
        m.set(a.rule, (m.get(a.rule) ?? 0) + 1);
      }
      continue;
    }
    tp++;
    r.tp++;
    if (high) hcTp++;
    for (const atk of hits) {
      const f = fired.get(atk) ?? new Set<string>();
      fired.set(atk, f);
      f.add(a.rule);
      if (!atk.rules.includes(a.rule)) continue;
      const delay = Math.max(0, a.lastSeen - atk.start);
      found.set(atk, Math.min(found.get(atk) ?? Number.POSITIVE_INFINITY, delay));
    }
  }
  const ruleNames = [...new Set([...byRule.keys(), ...corpus.attacks.flatMap((a) => a.rules)])].sort();
  const rules = ruleNames.map((rule): RuleReport => {
    const r = byRule.get(rule) ?? { alerts: 0, tp: 0 };
    const claimed = corpus.attacks.filter((a) => a.rules.includes(rule));
    const hit = claimed.filter((a) => fired.get(a)?.has(rule));
    return {
      rule,
      alerts: r.alerts,
      truePositives: r.tp,
      falsePositives: r.alerts - r.tp,
      precision: r.alerts === 0 ? 1 : r.tp / r.alerts,
      claimed: claimed.length,
      found: hit.length,
      recall: claimed.length === 0 ? 1 : hit.length / claimed.length,
      falsePerDay: (r.alerts - r.tp) / scoredDays,
    };
  });
  const falseTotal = alerts.length - tp;
  return {
    events: corpus.events.length,
    scoredDays,
    alerts: alerts.length,
    truePositives: tp,
    precision: alerts.length === 0 ? 1 : tp / alerts.length,
    highCritical: { alerts: hc, truePositives: hcTp, precision: hc === 0 ? 1 : hcTp / hc },
    attacks: corpus.attacks.length,
    foundByOwnRule: found.size,
    foundByAnyRule: fired.size,
    recall: corpus.attacks.length === 0 ? 1 : found.size / corpus.attacks.length,
    falsePerDay: falseTotal / scoredDays,
    falsePer1000SubjectsPerDay: (falseTotal / scoredDays / corpus.activeSubjectsPerDay) * 1000,
    rules,
    cohorts: [...cohortFalse]
      .map(([cohort, m]) => ({ cohort, falseAlerts: [...m.values()].reduce((x, y) => x + y, 0), byRule: Object.fromEntries(m) }))
      .sort((a, b) => b.falseAlerts - a.falseAlerts),
    perAttack: corpus.attacks.map((a) => ({
      id: a.id,
      rules: a.rules,
      found: found.has(a),
      byAnyRule: fired.has(a),
      delayMs: found.get(a) ?? null,
      firedRules: [...(fired.get(a) ?? [])].sort(),
    })),
    falseAlerts,
  };
}

const pct = (x: number) => x.toFixed(3);

export function formatReport(r: Report): string {
  const lines: string[] = [];
  lines.push(
    `realistic evaluation: ${r.events.toLocaleString('en')} events, ${r.attacks} labelled attacks, ${r.scoredDays} scored days (after 1 learning day)`,
  );
  lines.push(
    `  alerts ${r.alerts}  true ${r.truePositives}  precision ${pct(r.precision)}  | high+critical ${r.highCritical.alerts} alerts, precision ${pct(r.highCritical.precision)}`,
  );
  lines.push(
    `  attacks found by a rule meant for them ${r.foundByOwnRule}/${r.attacks} (recall ${pct(r.recall)}), by any rule ${r.foundByAnyRule}/${r.attacks}`,
  );
  lines.push(`  false alerts ${r.falsePerDay.toFixed(1)} per day = ${r.falsePer1000SubjectsPerDay.toFixed(1)} per 1,000 active subjects per day`);
  lines.push('  per rule:                                    alerts  false  precision  attacks found/claimed  false/day');
  for (const x of r.rules)
    lines.push(
      `    ${x.rule.padEnd(42)} ${String(x.alerts).padStart(6)} ${String(x.falsePositives).padStart(6)}  ${pct(x.precision).padStart(9)}  ${`${x.found}/${x.claimed}`.padStart(21)}  ${x.falsePerDay.toFixed(1).padStart(9)}`,
    );
  lines.push('  false alerts per benign cohort (an alert counts for every cohort its evidence comes from):');
  for (const c of r.cohorts)
    lines.push(
      `    ${c.cohort.padEnd(24)} ${String(c.falseAlerts).padStart(5)}  ${Object.entries(c.byRule)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  lines.push('  per attack:');
  for (const a of r.perAttack)
    lines.push(
      `    ${a.found ? 'found ' : a.byAnyRule ? 'other ' : 'MISSED'} ${a.id.padEnd(34)} meant for ${a.rules.join('|').padEnd(44)} delay ${a.delayMs === null ? '-' : `${Math.round(a.delayMs / 1000)} s`}  fired: ${a.firedRules.join(', ') || '-'}`,
    );
  return lines.join('\n');
}
