import type { TokenType } from '@jwt-audit/events';
import { isVerified } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * long-lived-token: a token whose lifetime (exp - iat) exceeds policy for its type, or that the
 * enricher flagged (enrichment.lifetimeExceedsPolicy).
 *
 * Catches: tokens minted outside policy: a misconfigured or compromised issuer, a forged token
 * that verified because a signing key leaked, "never expires" service tokens that become
 * permanent credentials when stolen.
 *
 * State: none; suppression per token (24 h by default) makes it one alert per token.
 */
export interface LongLivedTokenConfig extends CommonRuleConfig {
  /** Longest allowed lifetime per token type (s). */
  maxLifetimeSec: Record<TokenType, number>;
  toleranceSec: number;
  useEnricherFlag: boolean;
}

export const longLivedToken: RuleDefinition<LongLivedTokenConfig, never> = {
  id: 'long-lived-token',
  name: 'long-lived-token',
  partitioning: 'subject',
  catches: 'tokens living longer than policy (exp - iat): issuer misconfiguration or forgery, permanent credentials',
  defaults: {
    enabled: true,
    severity: 'medium',
    suppressMs: 24 * 3_600_000,
    maxKeys: 100_000,
    maxLifetimeSec: { access: 3_600, id: 3_600, refresh: 30 * 86_400, unknown: 86_400 },
    toleranceSec: 60,
    useEnricherFlag: true,
  },
  respond: 'revoke the token (its jti) and find the issuer configuration or key that minted it; a leaked signing key means rotating it',
  key(e, c) {
    const t = e.token;
    // verified tokens only: a rejected request's token says nothing true about its lifetime,
    // except one the edge refused for its lifetime after its signature verified (the edge's
    // jwt.maxLifetimeSec policy, lifetime_too_long): the issuer did mint it, and that is the
    // misconfigured or compromised issuer this rule is for, refused or not
    const refusedForLifetime = e.kind === 'token.rejected' && e.rejection?.reason === 'lifetime_too_long' && e.attributes['token.signatureVerified'] === 'true';
    if (!t || e.kind === 'token.revoked' || !(isVerified(e) || refusedForLifetime)) return null;
    const lifetime = t.iat !== null && t.exp !== null ? t.exp - t.iat : null;
    const over = lifetime !== null && lifetime > (c.maxLifetimeSec[t.typ] ?? c.maxLifetimeSec.unknown) + c.toleranceSec;
    const flagged = c.useEnricherFlag && e.enrichment?.lifetimeExceedsPolicy === true;
    return over || flagged ? (t.jti ?? `fp:${t.fingerprint}`) : null;
  },
  ttlMs: () => 0,
  step(_entry, e, c) {
    const t = e.token!;
    const lifetime = t.iat !== null && t.exp !== null ? t.exp - t.iat : null;
    const max = c.maxLifetimeSec[t.typ] ?? c.maxLifetimeSec.unknown;
    return {
      entry: undefined,
      findings: [
        {
          evidence: [e.id],
          count: 1,
          windowMs: 0,
          firstSeen: e.occurredAt,
          description:
            lifetime !== null
              ? `${t.typ} token ${t.jti ?? t.fingerprint.slice(0, 16)} lives ${Math.round(lifetime / 3600)} h, policy allows ${Math.round(max / 3600)} h`
              : `${t.typ} token ${t.jti ?? t.fingerprint.slice(0, 16)} exceeds the lifetime policy (enricher)`,
          attributes: { typ: t.typ, lifetimeSec: lifetime === null ? '' : String(lifetime), maxSec: String(max) },
        },
      ],
    };
  },
};
