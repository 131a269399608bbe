import type { RejectionReason } from '@jwt-audit/events';
import { clientIp } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * token-tampering: a token with a bad signature, `alg: none`, a disallowed algorithm (algorithm
 * confusion: HS256 signed with the public key) or an unknown kid. Alerts on first sight.
 *
 * Catches: forged or edited tokens (claims changed, signature stripped), the classic JWT library
 * attacks (alg none, RS/HS confusion, kid injection). An unknown kid can also follow a key
 * rotation the verifier has not fetched yet: drop it from `reasons` if that is common for you.
 *
 * State: none (stateless); suppression per subject and IP folds a spray into one alert.
 */
export interface TokenTamperingConfig extends CommonRuleConfig {
  reasons: RejectionReason[];
  /** Algorithms that are an attack wherever they appear (case-insensitive). */
  forbiddenAlgs: string[];
}

export const tokenTampering: RuleDefinition<TokenTamperingConfig, never> = {
  id: 'token-tampering',
  name: 'token-tampering',
  partitioning: 'subject',
  catches: 'forged or edited tokens: bad signature, alg none, algorithm confusion, unknown kid',
  defaults: {
    enabled: true,
    severity: 'high',
    suppressMs: 10 * 60_000,
    maxKeys: 100_000,
    reasons: ['bad_signature', 'alg_not_allowed', 'unknown_kid'],
    forbiddenAlgs: ['none'],
  },
  key(e, c) {
    if (!e.token && !e.rejection) return null;
    const reason = e.kind === 'token.rejected' ? e.rejection?.reason : undefined;
    const alg = e.token?.alg?.toLowerCase();
    const hit = (reason !== undefined && c.reasons.includes(reason)) || (alg !== undefined && c.forbiddenAlgs.some((a) => a.toLowerCase() === alg));
    return hit ? `${e.actor.sub ?? e.attributes['token.claimedSub'] ?? ''}|${clientIp(e) ?? ''}` : null;
  },
  respond: 'block the source IP; the token was refused, but the subject it names (claimed, unverified) may be targeted: check that account for other activity',
  ttlMs: () => 0,
  step(_entry, e) {
    const reason = e.rejection?.reason ?? null;
    const alg = e.token?.alg ?? null;
    // a forged token names nobody we can vouch for; the subject it claims is still who is targeted
    const claimed = e.actor.sub === null ? (e.attributes['token.claimedSub'] ?? null) : null;
    return {
      entry: undefined,
      findings: [
        {
          ...(claimed ? { keys: { subject: claimed } } : {}),
          evidence: [e.id],
          count: 1,
          windowMs: 0,
          firstSeen: e.occurredAt,
          description: `tampered token presented from ${clientIp(e) ?? '?'}${reason ? ` (${reason})` : ''}${alg ? `, alg ${alg}` : ''}${e.token?.kid ? `, kid ${e.token.kid}` : ''}${claimed ? `, claiming to be ${claimed} (unverified)` : ''}`,
          attributes: {
            ...(claimed ? { subjectClaimed: 'true' } : {}),
            ...(reason ? { reason } : {}),
            ...(alg ? { alg } : {}),
            ...(e.token?.kid ? { kid: e.token.kid } : {}),
          },
        },
      ],
    };
  },
};
