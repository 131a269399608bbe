import { clientIp } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * unexpected-issuer: a token whose signature verified with a trusted key but whose issuer (or
 * audience) is not the one expected: rejected as `wrong_issuer` / `wrong_audience` with
 * `token.signatureVerified` true.
 *
 * Catches: a staging or test realm that shares the production signing key (its tokens are
 * valid signatures anyone with a staging account can mint, with any roles), a token minted for
 * another API replayed here (audience confusion), a signing key that leaked to another issuer.
 * A bad signature is token-tampering's; this rule is about good signatures in the wrong place,
 * which point at a key-management problem rather than one attacker.
 *
 * State: none; suppression per issuer folds repeats into one alert.
 */
export interface UnexpectedIssuerConfig extends CommonRuleConfig {
  /** Also alert on wrong_audience with a good signature. */
  audience: boolean;
}

export const unexpectedIssuer: RuleDefinition<UnexpectedIssuerConfig, never> = {
  id: 'unexpected-issuer',
  name: 'unexpected-issuer',
  partitioning: 'subject',
  catches: 'a token with a valid signature from an unexpected issuer or for another audience: a signing key shared with (or leaked to) another realm',
  respond:
    'stop the key being shared: give the other issuer (realm) its own signing key and rotate the production one; review what the tokens from that issuer were used for',
  defaults: { enabled: true, severity: 'high', suppressMs: 60 * 60_000, maxKeys: 10_000, audience: true },
  key(e, c) {
    if (e.kind !== 'token.rejected' || e.attributes['token.signatureVerified'] !== 'true') return null;
    const r = e.rejection?.reason;
    if (r !== 'wrong_issuer' && !(c.audience && r === 'wrong_audience')) return null;
    return `${r}|${e.token?.iss ?? ''}|${e.token?.kid ?? ''}`;
  },
  ttlMs: () => 0,
  step(_entry, e) {
    const t = e.token;
    return {
      entry: undefined,
      findings: [
        {
          evidence: [e.id],
          count: 1,
          windowMs: 0,
          firstSeen: e.occurredAt,
          description: `a token signed with trusted key ${t?.kid ?? '?'} but issued by ${t?.iss ?? '?'} for ${t?.aud.join(',') || '?'} (${e.rejection!.reason}) was presented from ${clientIp(e) ?? '?'}: that issuer holds a production signing key`,
          attributes: { reason: e.rejection!.reason, iss: t?.iss ?? '', kid: t?.kid ?? '', aud: t?.aud.join(',') ?? '' },
        },
      ],
    };
  },
};
