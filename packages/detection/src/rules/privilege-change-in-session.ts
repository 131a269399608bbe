import { isVerified, sessionIdOf } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * privilege-change-in-session: a token presented in a session carries roles or scopes that the
 * session's tokens from the token endpoint did not (escalation by default), and privilege
 * probing: one subject refused for missing scope on many distinct routes (two keyings of one
 * rule).
 *
 * Catches: a token minted with extra roles outside the authorization server's normal flow (a
 * compromised or misconfigured issuer, a leaked signing key, token exchange abuse), session
 * fixation into a more privileged session; and a client walking admin endpoints, fast or slow,
 * with a token that lacks the scope.
 *
 * Not escalation: a role granted during the day, which the next refresh carries. The session's
 * reference follows the newest token the token endpoint issued (token.issued / token.refreshed),
 * so a grant is learnt once and never re-alerts; `alertOnReissue` reports such changes too (low
 * severity). Narrowing (downscoping on refresh is legitimate in OAuth) alerts only with
 * `alertOnNarrowing`. Not probing: a UI that prefetches the same few admin pages for everyone:
 * the probe count is of distinct routes.
 *
 * State: per session, the roles and scopes of the newest issued (else first presented) token;
 * per subject, the distinct routes refused for scope in the window.
 */
export interface PrivilegeChangeConfig extends CommonRuleConfig {
  alertOnNarrowing: boolean;
  /** Also alert (low) when the token endpoint itself issues more privileges within a session. */
  alertOnReissue: boolean;
  /** Sessions idle this long are forgotten (ms). */
  sessionTtlMs: number;
}
export interface ScopeProbeConfig extends CommonRuleConfig {
  /** Distinct routes refused for scope within the window. */
  threshold: number;
  windowMs: number;
}

type Entry = [roles: string[], scopes: string[], eventId: string];

const added = (base: string[], now: string[]) => now.filter((x) => !base.includes(x));
const issuance = (e: { kind: string }) => e.kind === 'token.issued' || e.kind === 'token.refreshed';

export const privilegeChangeInSession: RuleDefinition<PrivilegeChangeConfig, Entry> = {
  id: 'privilege-change-in-session',
  name: 'privilege-change-in-session',
  partitioning: 'subject',
  catches: 'a token in a session carrying roles or scopes its issued tokens did not: forged or out-of-band issuance',
  respond: 'revoke the token and the session; find who minted it (issuer logs for its jti) and whether a signing key leaked',
  defaults: {
    enabled: true,
    severity: 'high',
    suppressMs: 60 * 60_000,
    maxKeys: 500_000,
    alertOnNarrowing: false,
    alertOnReissue: false,
    sessionTtlMs: 24 * 3_600_000,
  },
  // access tokens only at issuance (a refresh token's event repeats the access token's claims)
  key: (e) => (isVerified(e) && !(issuance(e) && e.token?.typ !== 'access') ? sessionIdOf(e) : null),
  ttlMs: (c) => c.sessionTtlMs,
  step(entry, e, c) {
    const roles = [...e.actor.roles].sort();
    const scopes = [...e.actor.scopes].sort();
    const next: Entry = [roles, scopes, e.id];
    if (!entry) return { entry: next };
    const plusRoles = added(entry[0], roles);
    const plusScopes = added(entry[1], scopes);
    const minus = added(roles, entry[0]).length + added(scopes, entry[1]).length;
    const reissued = issuance(e);
    // the reference follows the newest issued token: a legitimate grant is learnt once
    const keep = reissued ? next : entry;
    if (plusRoles.length + plusScopes.length === 0 && (minus === 0 || !c.alertOnNarrowing)) return { entry: keep };
    const escalation = plusRoles.length + plusScopes.length > 0;
    if (reissued && escalation && !c.alertOnReissue) return { entry: keep };
    return {
      entry: keep,
      findings: [
        {
          evidence: [entry[2], e.id],
          count: 2,
          windowMs: 0,
          firstSeen: e.occurredAt,
          severity: escalation && !reissued ? c.severity : 'low',
          keys: { sessionId: sessionIdOf(e) },
          description: escalation
            ? `session ${sessionIdOf(e)} of ${e.actor.sub ?? '?'} ${reissued ? 'was issued a token with' : 'presented a token the token endpoint never issued it, with'} ${[...plusRoles.map((r) => `role ${r}`), ...plusScopes.map((s) => `scope ${s}`)].join(', ')}`
            : `session ${sessionIdOf(e)} lost privileges`,
          attributes: {
            trigger: escalation ? (reissued ? 'reissue' : 'escalation') : 'narrowing',
            addedRoles: plusRoles.join(','),
            addedScopes: plusScopes.join(','),
          },
        },
      ],
    };
  },
};

interface ProbeEntry {
  /** distinct routes: [route, last time, event id] */
  r: Array<[string, number, string]>;
}

export const insufficientScopeBurst: RuleDefinition<ScopeProbeConfig, ProbeEntry> = {
  id: 'privilege-change-in-session',
  name: 'privilege-change-in-session/insufficient-scope',
  partitioning: 'subject',
  catches: 'one subject refused for missing scope on many distinct routes: privilege probing',
  respond: "ask the subject's manager whether the access attempts were expected; if not, suspend the account and review what the routes below expose",
  defaults: { enabled: true, severity: 'medium', suppressMs: 2 * 3_600_000, maxKeys: 100_000, threshold: 8, windowMs: 2 * 3_600_000 },
  key: (e) => (e.kind === 'token.rejected' && e.rejection?.reason === 'insufficient_scope' ? e.actor.sub : null),
  ttlMs: (c) => c.windowMs,
  step(entry, e, c) {
    const st: ProbeEntry = entry ?? { r: [] };
    const route = e.http?.request.route ?? e.http?.request.path ?? '?';
    st.r = st.r.filter((x) => x[1] > e.occurredAt - c.windowMs);
    const hit = st.r.find((x) => x[0] === route);
    if (hit) {
      hit[1] = Math.max(hit[1], e.occurredAt);
      return { entry: st };
    }
    st.r.push([route, e.occurredAt, e.id]);
    if (st.r.length > c.threshold) st.r.shift();
    if (st.r.length < c.threshold) return { entry: st };
    return {
      entry: st,
      findings: [
        {
          evidence: st.r.map((x) => x[2]),
          count: st.r.length,
          windowMs: c.windowMs,
          firstSeen: Math.min(...st.r.map((x) => x[1])),
          keys: { jti: null, sessionId: null, familyId: null },
          description: `subject ${e.actor.sub} was refused for missing scope on ${st.r.length} distinct routes within ${Math.round(c.windowMs / 60_000)} min: ${st.r.map((x) => x[0]).join(', ')}`,
          attributes: { trigger: 'insufficient-scope-probe', routes: st.r.map((x) => x[0]).join(',') },
        },
      ],
    };
  },
};
