import { clientIp, pushWindow, type TimeWindow } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * expired-token-replay: the same client presents expired tokens again and again, or presents a
 * token that expired long ago.
 *
 * Catches: replay of captured tokens (an attacker replaying what a proxy log or a stolen HAR file
 * held, probing for a verifier that skips exp or has a large clock skew). A well-behaved client
 * presents an expired token at most once, then refreshes.
 *
 * State: per (subject or IP, client id), the times of the last `threshold` expired rejections.
 */
export interface ExpiredTokenReplayConfig extends CommonRuleConfig {
  threshold: number;
  windowMs: number;
  /** A token expired more than this long ago alerts on first sight (s); 0 = off. */
  staleAfterSec: number;
}

export const expiredTokenReplay: RuleDefinition<ExpiredTokenReplayConfig, TimeWindow> = {
  id: 'expired-token-replay',
  name: 'expired-token-replay',
  partitioning: 'subject',
  catches: 'repeated presentation of expired tokens by one client, or of long-expired ones: captured tokens replayed',
  defaults: { enabled: true, severity: 'medium', suppressMs: 30 * 60_000, maxKeys: 100_000, threshold: 3, windowMs: 10 * 60_000, staleAfterSec: 7 * 86_400 },
  key(e) {
    if (e.kind !== 'token.rejected' || e.rejection?.reason !== 'expired') return null;
    const who = e.actor.sub ? `s:${e.actor.sub}` : clientIp(e) ? `ip:${clientIp(e)}` : null;
    return who ? `${who}|${e.actor.clientId ?? ''}` : null;
  },
  ttlMs: (c) => c.windowMs,
  step(entry, e, c) {
    const w = pushWindow(entry, e.occurredAt, e.id, c.windowMs, c.threshold);
    const expiredForSec = e.token?.exp ? Math.floor(e.occurredAt / 1000) - e.token.exp : null;
    if (c.staleAfterSec > 0 && expiredForSec !== null && expiredForSec > c.staleAfterSec) {
      return {
        entry: w,
        findings: [{
          evidence: [e.id], count: 1, windowMs: 0, firstSeen: e.occurredAt,
          description: `token expired ${Math.round(expiredForSec / 86_400)} days ago was presented`,
          attributes: { expiredForSec: String(expiredForSec) },
        }],
      };
    }
    if (w.t.length < c.threshold) return { entry: w };
    return {
      entry: w,
      findings: [{
        evidence: [...w.ids], count: w.t.length, windowMs: c.windowMs, firstSeen: w.t[0]!,
        description: `${w.t.length} expired tokens presented by the same client within ${Math.round(c.windowMs / 60_000)} min`,
        attributes: expiredForSec !== null ? { expiredForSec: String(expiredForSec) } : ({} as Record<string, string>),
      }],
    };
  },
};
