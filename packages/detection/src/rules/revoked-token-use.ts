import type { AuditEvent } from '@jwt-audit/events';
import { asnOf, clientIp, deviceOf, isPresentation } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * revoked-token-use: a token whose jti was revoked (token.revoked) is presented again.
 *
 * Catches: use of a token after logout / admin revocation / incident response, i.e. a copy of the
 * token held by someone else (stolen from a browser, a log, a proxy) or a client ignoring
 * revocation. A rejection with reason `revoked` (the interceptor enforced it) fires too: the
 * attempt itself is the signal.
 *
 * Not a copy: the revoking client's own tail (another tab polling after logout, from the same
 * device and network, within `tailMs`), and requests in flight or stamped by an instance whose
 * clock runs a few seconds ahead (`graceMs`, measured from the revocation's own event time).
 *
 * A token without a jti is followed by its fingerprint instead: the edge cannot refuse such a
 * token after an RFC 7009 revocation (a revocation record names a jti or a subject), so its use
 * after the revocation is accepted there and this alert is the only sign of it.
 *
 * State: per jti (else fingerprint), the revocation time, event id and the revoking client's
 * device and network, kept until the token's own exp (it cannot be used after that anyway) or
 * `retainMs` when the event carries no exp.
 */
export interface RevokedTokenUseConfig extends CommonRuleConfig {
  /**
   * Presentations this soon after the revocation (by the revocation's own time) are requests
   * already in flight, plus the clock skew between instances (ms).
   */
  graceMs: number;
  /** How long a revocation is remembered when the token has no exp (ms). */
  retainMs: number;
  /**
   * The revoking client's own tail: another tab or a poller on the same device and network goes
   * on presenting the token for a while after logout (rejected by the interceptor). Presentations
   * from the revoking device and network within this long are that tail, not a stolen copy (ms).
   */
  tailMs: number;
}

interface Entry {
  /** revoked at (event time) */
  r: number;
  /** revocation event id */
  e: string;
  /** the revoking client's device|network, when the revocation carried one */
  o?: string;
}

const originOf = (e: AuditEvent): string | null => {
  const ip = clientIp(e);
  if (!ip) return null;
  return `${deviceOf(e) ?? '?'}|${asnOf(e) ?? ip}`;
};

/**
 * The token's jti (as before, so state kept by an earlier version still matches), else its
 * fingerprint behind a NUL, which no issuer puts at the start of a jti.
 */
function tokenKey(e: AuditEvent): string | null {
  const t = e.token;
  if (!t) return null;
  if (t.jti !== null) return t.jti;
  return t.fingerprint ? `\u0000fp:${t.fingerprint}` : null;
}

export const revokedTokenUse: RuleDefinition<RevokedTokenUseConfig, Entry> = {
  id: 'revoked-token-use',
  name: 'revoked-token-use',
  partitioning: 'subject',
  catches: 'a revoked token (jti) presented again from somewhere else than the client that revoked it: a stolen copy',
  respond:
    "the token is already refused where revocation is enforced; find where the copy came from (the IP and device below), revoke the subject's other sessions and check the device that revoked it for malware",
  defaults: { enabled: true, severity: 'high', suppressMs: 10 * 60_000, maxKeys: 200_000, graceMs: 5_000, retainMs: 24 * 3_600_000, tailMs: 10 * 60_000 },
  key: tokenKey,
  ttlMs: (c) => c.retainMs,
  step(entry, e, c) {
    const jti = e.token!.jti ?? `with fingerprint ${e.token!.fingerprint.slice(0, 16)}`;
    if (e.kind === 'token.revoked') {
      const exp = e.token?.exp ? e.token.exp * 1000 : e.occurredAt + c.retainMs;
      const o = originOf(e);
      // a token already expired still gets a short memory: replays of it are interesting too
      return { entry: entry ?? { r: e.occurredAt, e: e.id, ...(o ? { o } : {}) }, expiresAt: Math.max(exp, e.occurredAt + c.graceMs) + c.graceMs };
    }
    if (!isPresentation(e)) return { entry };
    const rejectedAsRevoked = e.kind === 'token.rejected' && e.rejection?.reason === 'revoked';
    if (entry && e.occurredAt > entry.r + c.graceMs) {
      const sinceMs = e.occurredAt - entry.r;
      if (entry.o !== undefined && entry.o === originOf(e) && sinceMs <= c.tailMs) return { entry }; // the revoking client's own tail
      return {
        entry,
        findings: [
          {
            evidence: [entry.e, e.id],
            count: 1,
            windowMs: sinceMs,
            firstSeen: entry.r,
            description: `token ${jti} was presented ${Math.round(sinceMs / 1000)} s after it was revoked, from ${clientIp(e) ?? '?'}${entry.o !== undefined ? ' (not the device and network that revoked it)' : ''}${rejectedAsRevoked ? '; the interceptor refused it' : ''}`,
            attributes: { enforced: String(rejectedAsRevoked), sinceSec: String(Math.round(sinceMs / 1000)) },
          },
        ],
      };
    }
    if (rejectedAsRevoked && !entry) {
      return {
        entry,
        findings: [
          {
            evidence: [e.id],
            count: 1,
            windowMs: 0,
            firstSeen: e.occurredAt,
            description: `token ${jti} was presented after revocation from ${clientIp(e) ?? '?'} (rejected by the interceptor; the revocation itself is older than this detector's memory)`,
            attributes: { enforced: 'true' },
          },
        ],
      };
    }
    return { entry };
  },
};
