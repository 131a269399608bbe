import type { AuditEvent } from '@jwt-audit/events';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * refresh-token-reuse: a refresh token that was already exchanged (rotated) is exchanged again.
 *
 * Catches: refresh-token theft under rotation (OAuth 2.0 Security BCP, RFC 9700 §4.14.2). With
 * rotation each refresh token is single-use, so a second exchange of the same one means two
 * parties hold the family: the legitimate client and an attacker. Which is which cannot be told,
 * so the whole family is compromised and should be revoked.
 *
 * Facts used: token.refreshed carries token.previousFingerprint (the refresh token exchanged) and
 * token.familyId. A previousFingerprint seen twice is reuse. A token.rejected for a refresh token
 * whose fingerprint was already exchanged in its family (the authorization server refused the
 * replay) counts too.
 *
 * State: per family (or per fingerprint when there is no family id), the last `maxChain`
 * exchanged fingerprints. A replay of a token older than that many rotations is missed: raise it
 * for very long-lived families.
 */
export interface RefreshTokenReuseConfig extends CommonRuleConfig {
  /** Exchanged fingerprints remembered per family. */
  maxChain: number;
  /** A family not refreshed for this long is forgotten (ms); the refresh token lifetime. */
  familyTtlMs: number;
}

interface Entry {
  /** exchanged fingerprints, oldest first */
  f: string[];
  /** event id of each exchange */
  ev: string[];
}

function familyKey(e: AuditEvent): string | null {
  const t = e.token;
  if (!t) return null;
  if (e.kind === 'token.refreshed' && t.previousFingerprint) return t.familyId ? `fam:${t.familyId}` : `fp:${t.previousFingerprint}`;
  if (e.kind === 'token.rejected' && t.typ === 'refresh') return t.familyId ? `fam:${t.familyId}` : `fp:${t.fingerprint}`;
  return null;
}

export const refreshTokenReuse: RuleDefinition<RefreshTokenReuseConfig, Entry> = {
  id: 'refresh-token-reuse',
  name: 'refresh-token-reuse',
  partitioning: 'subject',
  catches: 'a rotated (already used) refresh token exchanged again: the token family is held by an attacker too',
  defaults: { enabled: true, severity: 'critical', suppressMs: 60 * 60_000, maxKeys: 200_000, maxChain: 64, familyTtlMs: 30 * 86_400_000 },
  key: familyKey,
  ttlMs: (c) => c.familyTtlMs,
  step(entry, e, c) {
    const t = e.token!;
    const presented = e.kind === 'token.refreshed' ? t.previousFingerprint! : t.fingerprint;
    const state = entry ?? { f: [], ev: [] };
    const i = state.f.indexOf(presented);
    const family = t.familyId ?? '(none)';
    if (i >= 0) {
      return {
        entry: state,
        findings: [{
          evidence: [state.ev[i]!, e.id], count: 2, windowMs: 0, firstSeen: e.occurredAt,
          keys: { familyId: t.familyId },
          description: `refresh token of family ${family} was exchanged twice: the family is compromised and should be revoked`,
          attributes: { fingerprint: presented.slice(0, 16), replay: e.kind === 'token.rejected' ? 'rejected' : 'accepted' },
        }],
      };
    }
    if (e.kind === 'token.refreshed') {
      state.f.push(presented);
      state.ev.push(e.id);
      if (state.f.length > c.maxChain) {
        state.f.shift();
        state.ev.shift();
      }
      return { entry: state };
    }
    return { entry };
  },
};
