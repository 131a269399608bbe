import type { AuditEvent } from '@jwt-audit/events';
import { isPresentation } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * revoked-token-use: a token whose jti was revoked (token.revoked) is presented again.
 *
 * Catches: use of a token after logout / admin revocation / incident response, i.e. a copy of the
 * token held by someone else (stolen from a browser, a log, a proxy) or a client ignoring
 * revocation. A rejection with reason `revoked` (the interceptor enforced it) fires too: the
 * attempt itself is the signal.
 *
 * State: per jti, the revocation time and event id, kept until the token's own exp (it cannot be
 * used after that anyway) or `retainMs` when the event carries no exp.
 */
export interface RevokedTokenUseConfig extends CommonRuleConfig {
  /** Presentations this soon after the revocation are requests already in flight (ms). */
  graceMs: number;
  /** How long a revocation is remembered when the token has no exp (ms). */
  retainMs: number;
}

interface Entry {
  /** revoked at (event time) */
  r: number;
  /** revocation event id */
  e: string;
}

export const revokedTokenUse: RuleDefinition<RevokedTokenUseConfig, Entry> = {
  id: 'revoked-token-use',
  name: 'revoked-token-use',
  partitioning: 'subject',
  catches: 'a revoked token (jti) presented again: a stolen copy, or a client ignoring revocation',
  defaults: { enabled: true, severity: 'high', suppressMs: 10 * 60_000, maxKeys: 200_000, graceMs: 2_000, retainMs: 24 * 3_600_000 },
  key: (e: AuditEvent) => e.token?.jti ?? null,
  ttlMs: (c) => c.retainMs,
  step(entry, e, c) {
    const jti = e.token!.jti!;
    if (e.kind === 'token.revoked') {
      const exp = e.token?.exp ? e.token.exp * 1000 : e.occurredAt + c.retainMs;
      // a token already expired still gets a short memory: replays of it are interesting too
      return { entry: entry ?? { r: e.occurredAt, e: e.id }, expiresAt: Math.max(exp, e.occurredAt + c.graceMs) + c.graceMs };
    }
    if (!isPresentation(e)) return { entry };
    const rejectedAsRevoked = e.kind === 'token.rejected' && e.rejection?.reason === 'revoked';
    if (entry && e.occurredAt > entry.r + c.graceMs) {
      return {
        entry,
        findings: [{
          evidence: [entry.e, e.id], count: 1, windowMs: e.occurredAt - entry.r, firstSeen: entry.r,
          description: `token ${jti} was presented ${Math.round((e.occurredAt - entry.r) / 1000)} s after it was revoked`,
          attributes: { enforced: String(rejectedAsRevoked) },
        }],
      };
    }
    if (rejectedAsRevoked && !entry) {
      return {
        entry,
        findings: [{
          evidence: [e.id], count: 1, windowMs: 0, firstSeen: e.occurredAt,
          description: `token ${jti} was presented after revocation (rejected by the interceptor)`,
          attributes: { enforced: 'true' },
        }],
      };
    }
    return { entry };
  },
};
