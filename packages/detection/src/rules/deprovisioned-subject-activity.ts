import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * deprovisioned-subject-activity: any activity by a subject after `subject.deprovisioned`.
 *
 * Catches: a leaver's tokens still in use (long-lived tokens, refresh tokens not revoked, a
 * service that does not check revocation), an account re-enabled without a trace. A rejection
 * with reason `subject_deprovisioned` fires too: the attempt is the signal. Clean-up events
 * (revocations, session ends) after the deprovisioning are expected and ignored.
 *
 * State: per deprovisioned subject, when it happened; kept `retainMs`.
 */
export interface DeprovisionedActivityConfig extends CommonRuleConfig {
  graceMs: number;
  retainMs: number;
}

type Entry = [at: number, eventId: string];
const CLEANUP = new Set(['subject.deprovisioned', 'token.revoked', 'session.ended']);

export const deprovisionedSubjectActivity: RuleDefinition<DeprovisionedActivityConfig, Entry> = {
  id: 'deprovisioned-subject-activity',
  name: 'deprovisioned-subject-activity',
  partitioning: 'subject',
  catches: "activity by a subject after it was deprovisioned: a leaver's tokens still in use",
  defaults: { enabled: true, severity: 'critical', suppressMs: 60 * 60_000, maxKeys: 100_000, graceMs: 2_000, retainMs: 30 * 86_400_000 },
  key: (e) => e.actor.sub,
  ttlMs: (c) => c.retainMs,
  step(entry, e, c) {
    if (e.kind === 'subject.deprovisioned') return { entry: entry ?? [e.occurredAt, e.id] };
    const rejected = e.kind === 'token.rejected' && e.rejection?.reason === 'subject_deprovisioned';
    if (entry && !CLEANUP.has(e.kind) && e.occurredAt > entry[0] + c.graceMs) {
      return {
        entry,
        findings: [
          {
            evidence: [entry[1], e.id],
            count: 1,
            windowMs: e.occurredAt - entry[0],
            firstSeen: entry[0],
            description: `${e.kind} by subject ${e.actor.sub} ${Math.round((e.occurredAt - entry[0]) / 60_000)} min after it was deprovisioned`,
            attributes: { kind: e.kind, enforced: String(rejected) },
          },
        ],
      };
    }
    if (!entry && rejected) {
      return {
        entry,
        findings: [
          {
            evidence: [e.id],
            count: 1,
            windowMs: 0,
            firstSeen: e.occurredAt,
            description: `subject ${e.actor.sub} presented a token after it was deprovisioned (rejected by the interceptor)`,
            attributes: { kind: e.kind, enforced: 'true' },
          },
        ],
      };
    }
    return { entry };
  },
};
