import type { AuditEvent } from '@jwt-audit/events';
import { clientIp, isAuthFailure, pushWindow, type TimeWindow } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * auth-failure-burst: rejected tokens and 401s beyond a threshold within a window, counted per
 * client IP and per subject (two keyings of one rule).
 *
 * Catches: brute force and credential stuffing at the token endpoint (401s), token guessing or
 * spraying forged/stolen tokens across many accounts from one source (per IP, which needs the
 * events re-keyed by IP: one IP's failures against many subjects are spread over partitions),
 * and focused attacks on one account from many sources (per subject). Insufficient-scope
 * rejections are privilege probing and are counted by privilege-change-in-session instead.
 *
 * State: per key, the times (and event ids) of the last `threshold` failures in the window.
 */
export interface AuthFailureBurstConfig extends CommonRuleConfig {
  threshold: number;
  windowMs: number;
}

function burst(name: string, partitioning: 'ip' | 'subject', key: (e: AuditEvent) => string | null, defaults: AuthFailureBurstConfig, what: string): RuleDefinition<AuthFailureBurstConfig, TimeWindow> {
  return {
    id: 'auth-failure-burst',
    name,
    partitioning,
    catches: `authentication failures beyond a threshold per ${what}: brute force, credential stuffing, token guessing`,
    defaults,
    key: (e) => (isAuthFailure(e) ? key(e) : null),
    ttlMs: (c) => c.windowMs,
    step(entry, e, c) {
      const w = pushWindow(entry, e.occurredAt, e.id, c.windowMs, c.threshold);
      if (w.t.length < c.threshold) return { entry: w };
      const k = key(e)!;
      return {
        entry: w,
        findings: [{
          evidence: [...w.ids], count: w.t.length, windowMs: c.windowMs, firstSeen: w.t[0]!,
          keys: partitioning === 'ip' ? { subject: null, jti: null, familyId: null, sessionId: null } : { jti: null, familyId: null, sessionId: null },
          description: `${w.t.length} authentication failures for ${what} ${k} within ${Math.round(c.windowMs / 1000)} s`,
          attributes: { keyedBy: what, reason: e.rejection?.reason ?? `http ${e.http?.response?.status ?? '?'}` },
        }],
      };
    },
  };
}

export const authFailureBurstByIp = burst('auth-failure-burst/ip', 'ip', clientIp, { enabled: true, severity: 'high', suppressMs: 10 * 60_000, maxKeys: 200_000, threshold: 20, windowMs: 60_000 }, 'IP');
export const authFailureBurstBySubject = burst('auth-failure-burst/subject', 'subject', (e) => e.actor.sub, { enabled: true, severity: 'medium', suppressMs: 10 * 60_000, maxKeys: 200_000, threshold: 10, windowMs: 5 * 60_000 }, 'subject');
