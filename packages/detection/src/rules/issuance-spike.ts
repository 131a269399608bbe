import type { AuditEvent } from '@jwt-audit/events';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * issuance-spike: tokens issued (token.issued, token.refreshed) per subject or per OAuth client
 * in one bucket far above that key's own recent baseline (two keyings of one rule).
 *
 * Catches: automated token minting with stolen client credentials or a stolen refresh token run
 * in a loop, a compromised client harvesting tokens for many users, scripted abuse of the token
 * endpoint. The baseline is per key, so a busy client is compared with itself, not with a quiet
 * one; `minCount` keeps new and quiet keys from alerting on a handful of tokens.
 *
 * State: per key, the current bucket (start, count, fired) and an exponentially weighted mean of
 * earlier buckets' counts (weight 2 / (baselineBuckets + 1)), with empty buckets counted as zero.
 */
export interface IssuanceSpikeConfig extends CommonRuleConfig {
  bucketMs: number;
  baselineBuckets: number;
  /** Alert when a bucket's count exceeds factor x the baseline mean ... */
  factor: number;
  /** ... and at least this many. */
  minCount: number;
}

type Entry = [bucketStart: number, count: number, mean: number, fired: 0 | 1, firstEventId: string];

function spike(name: string, partitioning: 'subject' | 'client', key: (e: AuditEvent) => string | null, defaults: IssuanceSpikeConfig, what: string): RuleDefinition<IssuanceSpikeConfig, Entry> {
  return {
    id: 'issuance-spike',
    name,
    partitioning,
    catches: `tokens issued per ${what} far above its own baseline: stolen credentials or refresh tokens used in a loop`,
    defaults,
    key: (e) => (e.kind === 'token.issued' || (e.kind === 'token.refreshed' && e.outcome !== 'failure') ? key(e) : null),
    ttlMs: (c) => c.bucketMs * c.baselineBuckets * 4,
    step(entry, e, c) {
      const bucket = Math.floor(e.occurredAt / c.bucketMs) * c.bucketMs;
      const alpha = 2 / (c.baselineBuckets + 1);
      let st: Entry = entry ?? [bucket, 0, 0, 0, e.id];
      if (bucket > st[0]) {
        // fold the finished bucket, then every empty bucket in between, into the mean
        const empty = Math.min(10_000, (bucket - st[0]) / c.bucketMs - 1);
        let mean = st[2] + alpha * (st[1] - st[2]);
        mean *= (1 - alpha) ** empty;
        st = [bucket, 0, mean, 0, e.id];
      } else if (bucket < st[0]) {
        return { entry: st }; // late event for a closed bucket: not counted
      }
      st[1]++;
      const threshold = Math.max(c.minCount, c.factor * st[2]);
      if (st[3] === 1 || st[1] <= threshold) return { entry: st };
      st[3] = 1;
      const k = key(e)!;
      return {
        entry: st,
        findings: [{
          evidence: [st[4], e.id], count: st[1], windowMs: c.bucketMs, firstSeen: st[0],
          keys: partitioning === 'client' ? { subject: null, clientId: k, jti: null, familyId: null, sessionId: null } : { jti: null, familyId: null, sessionId: null },
          description: `${st[1]} tokens issued for ${what} ${k} in ${Math.round(c.bucketMs / 60_000)} min (baseline ${st[2].toFixed(1)} per bucket)`,
          attributes: { keyedBy: what, baseline: st[2].toFixed(2) },
        }],
      };
    },
  };
}

export const issuanceSpikeBySubject = spike('issuance-spike/subject', 'subject', (e) => e.actor.sub, { enabled: true, severity: 'medium', suppressMs: 60 * 60_000, maxKeys: 500_000, bucketMs: 5 * 60_000, baselineBuckets: 24, factor: 5, minCount: 20 }, 'subject');
export const issuanceSpikeByClient = spike('issuance-spike/client', 'client', (e) => e.actor.clientId, { enabled: true, severity: 'high', suppressMs: 60 * 60_000, maxKeys: 50_000, bucketMs: 5 * 60_000, baselineBuckets: 24, factor: 5, minCount: 100 }, 'client');
