import { isVerified, sessionIdOf } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * session-activity-after-end: a valid token of a session used after the session was signed out (a
 * `session.ended` pushed by the IdP, whose `session.reason` says how; the sessionizer derives the
 * other ends).
 *
 * Catches: a stolen token or cookie replayed after the user signed out (the token outlives the
 * session at services that do not check it), a session "resumed" by someone who kept it. An end
 * by idle timeout or token expiry is not a sign-out: the same sid may rightly come back (the
 * sessionizer opens a new session then), so it raises nothing. Nor does an end by revocation: the
 * revoked token's own reuse is revoked-token-use's, and a valid token of the same sid was issued by
 * the IdP after the revocation (a refresh after an access token was revoked), which only it can.
 * An end by deprovisioning is deprovisioned-subject-activity's (critical, any activity of the
 * subject): one alert for one fact. Rejected presentations are not
 * counted: their claims are forgeable and the edge enforced the end already.
 *
 * State: per session id, when and how it ended and the ending event's id; kept `retainMs`.
 */
export interface SessionActivityAfterEndConfig extends CommonRuleConfig {
  /** Requests in flight and clock skew between instances (ms). */
  graceMs: number;
  retainMs: number;
}

type Entry = [endedAt: number, eventId: string, reason: string];
const NOT_A_SIGN_OUT = new Set(['idle_timeout', 'token_expiry', 'evicted', 'revocation', 'deprovisioning']);
const CLEANUP = new Set(['token.revoked', 'session.ended', 'subject.deprovisioned']);

export const sessionActivityAfterEnd: RuleDefinition<SessionActivityAfterEndConfig, Entry> = {
  id: 'session-activity-after-end',
  name: 'session-activity-after-end',
  partitioning: 'subject',
  catches: 'a session used after it was signed out: a token or cookie kept and replayed',
  respond: "revoke the session's tokens (audit sessions --subject <user>), check where the requests came from, make the services check revocation",
  defaults: { enabled: true, severity: 'high', suppressMs: 60 * 60_000, maxKeys: 100_000, graceMs: 5_000, retainMs: 24 * 3_600_000 },
  key: (e) => e.session?.id ?? sessionIdOf(e),
  ttlMs: (c) => c.retainMs,
  step(entry, e, c) {
    if (e.kind === 'session.ended') {
      const reason = e.session?.reason ?? 'sign_out';
      if (NOT_A_SIGN_OUT.has(reason)) return { entry };
      return { entry: entry ?? [e.occurredAt, e.id, reason] };
    }
    if (e.kind === 'session.started') return { entry: undefined }; // the IdP opened it again
    if (!entry || CLEANUP.has(e.kind) || !isVerified(e) || e.occurredAt <= entry[0] + c.graceMs) return { entry };
    const min = Math.round((e.occurredAt - entry[0]) / 60_000);
    return {
      entry,
      findings: [
        {
          evidence: [entry[1], e.id],
          count: 1,
          windowMs: e.occurredAt - entry[0],
          firstSeen: entry[0],
          description: `${e.kind} in session ${e.session?.id ?? sessionIdOf(e)} of ${e.actor.sub} ${min} min after it ended (${entry[2]})`,
          attributes: { endReason: entry[2], kind: e.kind },
        },
      ],
    };
  },
};
