import { isVerified, pushWindow, sessionIdOf, type TimeWindow } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * privilege-change-in-session: the roles or scopes of tokens within one session differ from the
 * session's first token (escalation by default), and bursts of insufficient-scope rejections per
 * subject (two keyings of one rule).
 *
 * Catches: privilege escalation through a mis-scoped refresh or token exchange, a token minted
 * with extra roles by a compromised or misconfigured issuer, session fixation into a more
 * privileged session; and privilege probing: a client walking admin endpoints with a token that
 * lacks the scope. Narrowing (downscoping on refresh is legitimate in OAuth) alerts only when
 * `alertOnNarrowing` is set.
 *
 * State: per session, the first verified token's roles and scopes; per subject, the times of the
 * last `probeThreshold` insufficient-scope rejections.
 */
export interface PrivilegeChangeConfig extends CommonRuleConfig {
  alertOnNarrowing: boolean;
  /** Sessions idle this long are forgotten (ms). */
  sessionTtlMs: number;
}
export interface ScopeProbeConfig extends CommonRuleConfig {
  threshold: number;
  windowMs: number;
}

type Entry = [roles: string[], scopes: string[], eventId: string];

const added = (base: string[], now: string[]) => now.filter((x) => !base.includes(x));

export const privilegeChangeInSession: RuleDefinition<PrivilegeChangeConfig, Entry> = {
  id: 'privilege-change-in-session',
  name: 'privilege-change-in-session',
  partitioning: 'subject',
  catches: 'roles or scopes of tokens within one session changed (escalation): mis-scoped refresh, forged issuance',
  defaults: { enabled: true, severity: 'high', suppressMs: 60 * 60_000, maxKeys: 500_000, alertOnNarrowing: false, sessionTtlMs: 24 * 3_600_000 },
  key: (e) => (isVerified(e) ? sessionIdOf(e) : null),
  ttlMs: (c) => c.sessionTtlMs,
  step(entry, e, c) {
    const roles = [...e.actor.roles].sort();
    const scopes = [...e.actor.scopes].sort();
    if (!entry) return { entry: [roles, scopes, e.id] };
    const plusRoles = added(entry[0], roles);
    const plusScopes = added(entry[1], scopes);
    const minus = added(roles, entry[0]).length + added(scopes, entry[1]).length;
    if (plusRoles.length + plusScopes.length === 0 && (minus === 0 || !c.alertOnNarrowing)) return { entry };
    const escalation = plusRoles.length + plusScopes.length > 0;
    return {
      entry,
      findings: [{
        evidence: [entry[2], e.id], count: 2, windowMs: 0, firstSeen: e.occurredAt,
        severity: escalation ? c.severity : 'low',
        keys: { sessionId: sessionIdOf(e) },
        description: escalation
          ? `session ${sessionIdOf(e)} gained ${[...plusRoles.map((r) => `role ${r}`), ...plusScopes.map((s) => `scope ${s}`)].join(', ')}`
          : `session ${sessionIdOf(e)} lost privileges`,
        attributes: { trigger: escalation ? 'escalation' : 'narrowing', addedRoles: plusRoles.join(','), addedScopes: plusScopes.join(',') },
      }],
    };
  },
};

export const insufficientScopeBurst: RuleDefinition<ScopeProbeConfig, TimeWindow> = {
  id: 'privilege-change-in-session',
  name: 'privilege-change-in-session/insufficient-scope',
  partitioning: 'subject',
  catches: 'bursts of insufficient-scope rejections for one subject: privilege probing',
  defaults: { enabled: true, severity: 'medium', suppressMs: 30 * 60_000, maxKeys: 100_000, threshold: 5, windowMs: 5 * 60_000 },
  key: (e) => (e.kind === 'token.rejected' && e.rejection?.reason === 'insufficient_scope' ? e.actor.sub : null),
  ttlMs: (c) => c.windowMs,
  step(entry, e, c) {
    const w = pushWindow(entry, e.occurredAt, e.id, c.windowMs, c.threshold);
    if (w.t.length < c.threshold) return { entry: w };
    return {
      entry: w,
      findings: [{
        evidence: [...w.ids], count: w.t.length, windowMs: c.windowMs, firstSeen: w.t[0]!,
        keys: { jti: null, sessionId: null, familyId: null },
        description: `${w.t.length} insufficient-scope rejections for subject ${e.actor.sub} within ${Math.round(c.windowMs / 60_000)} min`,
        attributes: { trigger: 'insufficient-scope-burst' },
      }],
    };
  },
};
