import { clientIp, pushWindow, type TimeWindow } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * token-guessing: many bearer credentials from one IP that are not tokens at all (`malformed`:
 * not a JWT, opaque strings) or that the authorization server does not know (a refresh grant
 * refused for an unknown refresh token), within a window.
 *
 * Catches: guessing or brute-forcing opaque access or refresh tokens, and scanners spraying
 * garbage credentials, also slowly (a few per minute for hours): the window is long and the
 * threshold counts per source IP. Clients with a broken token store send the same malformed
 * value again and again; the rule counts distinct fingerprints, so that is one.
 *
 * State: per IP (repartitioned), the distinct fingerprints seen in the window.
 */
export interface TokenGuessingConfig extends CommonRuleConfig {
  /** Distinct unknown credentials from one IP within the window. */
  threshold: number;
  windowMs: number;
}

interface Entry {
  w: TimeWindow;
  f: string[];
}

export const tokenGuessing: RuleDefinition<TokenGuessingConfig, Entry> = {
  id: 'token-guessing',
  name: 'token-guessing',
  partitioning: 'ip',
  catches: 'many distinct malformed or unknown bearer credentials from one IP: opaque token guessing, credential spraying',
  respond: 'block the source IP at the edge; if any guess succeeded (a validated token from it), revoke that token',
  defaults: { enabled: true, severity: 'high', suppressMs: 60 * 60_000, maxKeys: 100_000, threshold: 30, windowMs: 60 * 60_000 },
  key(e) {
    const guess =
      (e.kind === 'token.rejected' && e.rejection?.reason === 'malformed' && e.token !== null) ||
      (e.kind === 'token.refreshed' && e.outcome === 'failure' && e.actor.sub === null);
    return guess ? clientIp(e) : null;
  },
  ttlMs: (c) => c.windowMs,
  step(entry, e, c) {
    const st: Entry = entry ?? { w: { t: [], ids: [] }, f: [] };
    const fp = (e.token?.previousFingerprint ?? e.token?.fingerprint ?? '').slice(0, 16);
    if (st.f.includes(fp)) return { entry: st };
    st.f.push(fp);
    st.w = pushWindow(st.w, e.occurredAt, e.id, c.windowMs, c.threshold);
    if (st.f.length > c.threshold) st.f.shift();
    if (st.w.t.length < c.threshold) return { entry: st };
    const span = st.w.t[st.w.t.length - 1]! - st.w.t[0]!;
    return {
      entry: st,
      findings: [
        {
          evidence: [...st.w.ids],
          count: st.w.t.length,
          windowMs: c.windowMs,
          firstSeen: st.w.t[0]!,
          keys: { subject: null, jti: null, familyId: null, sessionId: null },
          description: `${st.w.t.length} distinct malformed or unknown bearer credentials from ${clientIp(e)} within ${Math.round(span / 60_000)} min: token guessing`,
          attributes: { keyedBy: 'IP', spanSec: String(Math.round(span / 1000)) },
        },
      ],
    };
  },
};
