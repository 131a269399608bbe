import type { AuditEvent } from '@jwt-audit/events';
import { asnOf, clientIp, deviceOf } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * expired-token-replay: one expired token presented again and again over time, or a token that
 * expired long ago.
 *
 * Catches: replay of captured tokens (an attacker replaying what a proxy log or a stolen HAR file
 * held, probing for a verifier that skips exp or has a large clock skew), also low and slow (one
 * try every few minutes for hours).
 *
 * Not replay: a client retrying a few times right after its token expired, before it refreshes.
 * Presentations of one token closer together than `retryGapMs` are one retry burst; the rule
 * counts bursts ("episodes"), so a retrying client makes one and a replayer many; a try from
 * another device or network than the previous one is a new episode (copies replayed elsewhere).
 *
 * State: per (subject or IP, token fingerprint), the episodes' start times and event ids, the last
 * presentation's time and origin.
 */
export interface ExpiredTokenReplayConfig extends CommonRuleConfig {
  /** Episodes of one expired token within `windowMs` that raise an alert. */
  threshold: number;
  windowMs: number;
  /** Presentations closer together than this are one retry burst (ms). */
  retryGapMs: number;
  /** A token expired more than this long ago alerts on first sight (s); 0 = off. */
  staleAfterSec: number;
}

interface Entry {
  /** episode start times */
  t: number[];
  ids: string[];
  /** last presentation time */
  l: number;
  /** last presentation's origin (device | network) */
  o?: string;
}

const originOf = (e: AuditEvent) => `${deviceOf(e) ?? '?'}|${asnOf(e) ?? clientIp(e) ?? '?'}`;

export const expiredTokenReplay: RuleDefinition<ExpiredTokenReplayConfig, Entry> = {
  id: 'expired-token-replay',
  name: 'expired-token-replay',
  partitioning: 'subject',
  catches: 'one expired token presented again and again over time, or a long-expired one: a captured token replayed',
  respond: 'the token is refused; find where the copy came from (the IP and device below): a proxy log, a HAR file or a compromised device of the subject',
  defaults: {
    enabled: true,
    severity: 'medium',
    suppressMs: 6 * 3_600_000,
    maxKeys: 100_000,
    threshold: 4,
    windowMs: 6 * 3_600_000,
    retryGapMs: 2 * 60_000,
    staleAfterSec: 7 * 86_400,
  },
  key(e) {
    if (e.kind !== 'token.rejected' || e.rejection?.reason !== 'expired' || !e.token) return null;
    const who = e.actor.sub ? `s:${e.actor.sub}` : clientIp(e) ? `ip:${clientIp(e)}` : null;
    return who ? `${who}|${e.token.fingerprint.slice(0, 16)}` : null;
  },
  ttlMs: (c) => c.windowMs,
  step(entry, e, c) {
    const st: Entry = entry ?? { t: [], ids: [], l: Number.NEGATIVE_INFINITY };
    const origin = originOf(e);
    // a try from another device or network is another party's, however close in time
    const newEpisode = e.occurredAt - st.l > c.retryGapMs || (st.o !== undefined && st.o !== origin);
    st.l = Math.max(st.l, e.occurredAt);
    st.o = origin;
    if (newEpisode) {
      st.t.push(e.occurredAt);
      st.ids.push(e.id);
      while (st.t.length > 0 && (st.t[0]! <= e.occurredAt - c.windowMs || st.t.length > c.threshold)) {
        st.t.shift();
        st.ids.shift();
      }
    }
    const expiredForSec = e.token?.exp ? Math.floor(e.occurredAt / 1000) - e.token.exp : null;
    if (c.staleAfterSec > 0 && expiredForSec !== null && expiredForSec > c.staleAfterSec) {
      return {
        entry: st,
        findings: [
          {
            evidence: [e.id],
            count: 1,
            windowMs: 0,
            firstSeen: e.occurredAt,
            description: `a token that expired ${Math.round(expiredForSec / 86_400)} days ago was presented from ${clientIp(e) ?? '?'}`,
            attributes: { expiredForSec: String(expiredForSec) },
          },
        ],
      };
    }
    if (!newEpisode || st.t.length < c.threshold) return { entry: st };
    return {
      entry: st,
      findings: [
        {
          evidence: [...st.ids],
          count: st.t.length,
          windowMs: c.windowMs,
          firstSeen: st.t[0]!,
          description: `one expired token was presented ${st.t.length} separate times over ${Math.round((e.occurredAt - st.t[0]!) / 60_000)} min (not one retry burst), last from ${clientIp(e) ?? '?'}`,
          attributes: expiredForSec !== null ? { expiredForSec: String(expiredForSec) } : ({} as Record<string, string>),
        },
      ],
    };
  },
};
