import type { AuditEvent } from '@jwt-audit/events';
import { asnOf, clientIp, deviceOf } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * refresh-token-reuse: a refresh token that was already exchanged (rotated) or revoked is
 * presented again.
 *
 * Catches: refresh-token theft under rotation (OAuth 2.0 Security BCP, RFC 9700 §4.14.2). With
 * rotation each refresh token is single-use, so a second exchange of the same one means two
 * parties hold the family: the legitimate client and an attacker. Which is which cannot be told,
 * so the whole family is compromised and should be revoked. A revoked refresh token (logout,
 * RFC 7009) presented again is a stolen copy too.
 *
 * Not reuse: a parallel refresh. Browsers with several tabs (and apps with several threads)
 * notice an expired access token together and refresh with the same refresh token within a
 * second or two; authorization servers allow this with a reuse leeway (Okta's grace period,
 * Auth0's reuse interval) and answer both. A second presentation within `leewayMs` of the first,
 * from the same device (user agent family) and network (ASN, else IP), is that and raises nothing.
 *
 * Facts used: token.refreshed carries token.previousFingerprint (the refresh token exchanged,
 * also on a refused exchange: outcome failure) and token.familyId; token.revoked with a refresh
 * token's fingerprint; token.rejected of a refresh token.
 *
 * State: per family (or per fingerprint without a family id), every exchanged fingerprint (a
 * 16-hex-digit prefix) with its time, device and network, kept as long as the family lives
 * (`familyTtlMs` after its last refresh) up to `maxChain` rotations (about 60 bytes each: the
 * default 2,000 covers a 30-day family refreshed every 15 minutes for 8 hours a day), plus the
 * revoked fingerprints.
 */
export interface RefreshTokenReuseConfig extends CommonRuleConfig {
  /** Exchanged fingerprints remembered per family (memory bound: ~60 bytes each). */
  maxChain: number;
  /** A family not refreshed for this long is forgotten (ms); the refresh token lifetime. */
  familyTtlMs: number;
  /** A second exchange this soon after the first, from the same device and network, is a parallel refresh (ms); match your IdP's reuse leeway. */
  leewayMs: number;
}

interface Entry {
  /** exchanged fingerprint prefixes, oldest first */
  f: string[];
  /** exchange time of each */
  t: number[];
  /** event id of each exchange */
  ev: string[];
  /** device|network|ip of each exchange */
  o: string[];
  /** revoked fingerprint prefixes and the revocation event ids */
  r?: Array<[fp: string, eventId: string]>;
}

const FP = 16;

function familyKey(e: AuditEvent): string | null {
  const t = e.token;
  if (!t) return null;
  if (e.kind === 'token.refreshed' && t.previousFingerprint) return t.familyId ? `fam:${t.familyId}` : `fp:${t.previousFingerprint.slice(0, FP)}`;
  if ((e.kind === 'token.rejected' || e.kind === 'token.revoked') && t.typ === 'refresh')
    return t.familyId ? `fam:${t.familyId}` : `fp:${t.fingerprint.slice(0, FP)}`;
  return null;
}

function originOf(e: AuditEvent): string {
  return `${deviceOf(e) ?? '?'}|${asnOf(e) ?? clientIp(e) ?? '?'}|${clientIp(e) ?? '?'}`;
}

export const refreshTokenReuse: RuleDefinition<RefreshTokenReuseConfig, Entry> = {
  id: 'refresh-token-reuse',
  name: 'refresh-token-reuse',
  partitioning: 'subject',
  catches: 'a rotated (already used) or revoked refresh token presented again: the token family is held by an attacker too',
  respond: 'revoke the whole refresh-token family (every session of it), then ask the subject to sign in again and check the devices that hold it',
  defaults: { enabled: true, severity: 'critical', suppressMs: 60 * 60_000, maxKeys: 200_000, maxChain: 2_000, familyTtlMs: 30 * 86_400_000, leewayMs: 10_000 },
  key: familyKey,
  ttlMs: (c) => c.familyTtlMs,
  step(entry, e, c) {
    const t = e.token!;
    const state: Entry = entry ?? { f: [], t: [], ev: [], o: [] };
    if (e.kind === 'token.revoked') {
      const r = (state.r ??= []);
      if (!r.some((x) => x[0] === t.fingerprint.slice(0, FP))) r.push([t.fingerprint.slice(0, FP), e.id]);
      if (r.length > 64) r.shift();
      return { entry: state };
    }
    const presented = (e.kind === 'token.refreshed' ? t.previousFingerprint! : t.fingerprint).slice(0, FP);
    const family = t.familyId ?? '(none)';
    const origin = originOf(e);
    const i = state.f.lastIndexOf(presented);
    if (i >= 0) {
      const sinceMs = e.occurredAt - state.t[i]!;
      const sameClient = state.o[i]!.split('|').slice(0, 2).join('|') === origin.split('|').slice(0, 2).join('|');
      if (sinceMs >= 0 && sinceMs <= c.leewayMs && sameClient && e.outcome !== 'failure') return { entry: state }; // a parallel refresh
      const [, , firstIp] = state.o[i]!.split('|');
      return {
        entry: state,
        findings: [
          {
            evidence: [state.ev[i]!, e.id],
            count: 2,
            windowMs: Math.max(0, sinceMs),
            firstSeen: state.t[i]!,
            keys: { familyId: t.familyId },
            description: `refresh token of family ${family} was presented again ${Math.round(sinceMs / 1000)} s after it was exchanged (first from ${firstIp}, now from ${clientIp(e) ?? '?'}${sameClient ? ', same device' : ', another device or network'}); the authorization server ${e.outcome === 'failure' || e.kind === 'token.rejected' ? 'refused' : 'accepted'} it: the family is compromised`,
            attributes: {
              fingerprint: presented,
              replay: e.outcome === 'failure' || e.kind === 'token.rejected' ? 'refused' : 'accepted',
              firstIp: firstIp ?? '',
              replayIp: clientIp(e) ?? '',
              sinceSec: String(Math.round(sinceMs / 1000)),
            },
          },
        ],
      };
    }
    const revoked = state.r?.find((x) => x[0] === presented);
    if (revoked) {
      return {
        entry: state,
        findings: [
          {
            evidence: [revoked[1], e.id],
            count: 2,
            windowMs: 0,
            firstSeen: e.occurredAt,
            keys: { familyId: t.familyId },
            description: `revoked refresh token of family ${family} was presented from ${clientIp(e) ?? '?'}: a copy outlived the logout`,
            attributes: { fingerprint: presented, replay: e.outcome === 'failure' ? 'refused' : 'accepted', replayIp: clientIp(e) ?? '' },
          },
        ],
      };
    }
    if (e.kind === 'token.refreshed' && e.outcome !== 'failure') {
      state.f.push(presented);
      state.t.push(e.occurredAt);
      state.ev.push(e.id);
      state.o.push(origin);
      if (state.f.length > c.maxChain) {
        state.f.shift();
        state.t.shift();
        state.ev.shift();
        state.o.shift();
      }
      return { entry: state };
    }
    return { entry: entry ?? undefined };
  },
};
