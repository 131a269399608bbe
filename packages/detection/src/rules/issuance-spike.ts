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
  /** ... and at least this many ... */
  minCount: number;
  /** ... and over this many times the busiest bucket seen at the same hour of day before (0 = off). */
  hourlyFactor: number;
}

/**
 * hourly: per hour of day (UTC), the largest bucket count seen in that hour, decayed by half a
 * day at a time: a nightly batch job that mints hundreds of tokens at 02:00 is learnt from the
 * previous nights (a learning day) and compared with itself, not with the quiet afternoon.
 */
type Entry = [bucketStart: number, count: number, mean: number, fired: 0 | 1, firstEventId: string, hourly?: number[]];

const HOUR = 3_600_000;

function spike(
  name: string,
  partitioning: 'subject' | 'client',
  key: (e: AuditEvent) => string | null,
  defaults: IssuanceSpikeConfig,
  what: string,
): RuleDefinition<IssuanceSpikeConfig, Entry> {
  return {
    id: 'issuance-spike',
    name,
    partitioning,
    catches: `tokens issued per ${what} far above its own baseline: stolen credentials or refresh tokens used in a loop`,
    respond: 'check who holds the credentials of the key below (client secret, refresh token); rotate them and revoke the tokens minted in the burst',
    defaults,
    key: (e) => (e.kind === 'token.issued' || (e.kind === 'token.refreshed' && e.outcome !== 'failure') ? key(e) : null),
    // kept over several days: the hour-of-day profile must outlive the quiet hours between two runs of a nightly job
    ttlMs: (c) => Math.max(c.bucketMs * c.baselineBuckets * 4, 3 * 86_400_000),
    step(entry, e, c) {
      const bucket = Math.floor(e.occurredAt / c.bucketMs) * c.bucketMs;
      const alpha = 2 / (c.baselineBuckets + 1);
      let st: Entry = entry ?? [bucket, 0, 0, 0, e.id];
      if (bucket > st[0]) {
        // fold the finished bucket, then every empty bucket in between, into the mean
        const empty = Math.min(10_000, (bucket - st[0]) / c.bucketMs - 1);
        let mean = st[2] + alpha * (st[1] - st[2]);
        mean *= (1 - alpha) ** empty;
        const hourly = st[5] ?? new Array<number>(24).fill(0);
        const h = Math.floor((st[0] % 86_400_000) / HOUR);
        hourly[h] = Math.max(hourly[h]!, st[1]);
        // forget slowly: a job that stopped running stops excusing its hour after a few days
        const days = (bucket - st[0]) / 86_400_000;
        if (days >= 0.5) for (let k = 0; k < 24; k++) hourly[k] = Math.floor(hourly[k]! * 0.5 ** Math.floor(days / 2));
        st = [bucket, 0, mean, 0, e.id, hourly];
      } else if (bucket < st[0]) {
        return { entry: st }; // late event for a closed bucket: not counted
      }
      st[1]++;
      const seasonal = c.hourlyFactor > 0 && st[5] ? c.hourlyFactor * st[5][Math.floor((bucket % 86_400_000) / HOUR)]! : 0;
      const threshold = Math.max(c.minCount, c.factor * st[2], seasonal);
      if (st[3] === 1 || st[1] <= threshold) return { entry: st };
      st[3] = 1;
      const k = key(e)!;
      return {
        entry: st,
        findings: [
          {
            evidence: [st[4], e.id],
            count: st[1],
            windowMs: c.bucketMs,
            firstSeen: st[0],
            keys:
              partitioning === 'client'
                ? { subject: null, clientId: k, jti: null, familyId: null, sessionId: null }
                : { jti: null, familyId: null, sessionId: null },
            description: `${st[1]} tokens issued for ${what} ${k} in ${Math.round(c.bucketMs / 60_000)} min (baseline ${st[2].toFixed(1)} per bucket)`,
            attributes: { keyedBy: what, baseline: st[2].toFixed(2), sameHourPeak: String(st[5]?.[Math.floor((bucket % 86_400_000) / HOUR)] ?? 0) },
          },
        ],
      };
    },
  };
}

export const issuanceSpikeBySubject = spike(
  'issuance-spike/subject',
  'subject',
  (e) => e.actor.sub,
  {
    enabled: true,
    severity: 'medium',
    suppressMs: 60 * 60_000,
    maxKeys: 500_000,
    bucketMs: 5 * 60_000,
    baselineBuckets: 24,
    factor: 5,
    minCount: 20,
    hourlyFactor: 2,
  },
  'subject',
);
export const issuanceSpikeByClient = spike(
  'issuance-spike/client',
  'client',
  (e) => e.actor.clientId,
  {
    enabled: true,
    severity: 'high',
    suppressMs: 60 * 60_000,
    maxKeys: 50_000,
    bucketMs: 5 * 60_000,
    baselineBuckets: 24,
    factor: 5,
    minCount: 100,
    hourlyFactor: 2,
  },
  'client',
);
