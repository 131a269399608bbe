import type { AuditEvent } from '@jwt-audit/events';
import type { EnrichmentPolicy } from './policy.js';

export interface TokenTiming {
  tokenAgeSec: number | null;
  tokenRemainingSec: number | null;
  lifetimeExceedsPolicy: boolean;
}

/**
 * Measured at the event's own time (occurredAt), not the enricher's clock, so replaying a topic
 * gives the same answer. Remaining is negative for a token used after it expired. The lifetime is
 * exp - iat (nbf when there is no iat); a token without exp has no bounded lifetime and exceeds
 * any policy.
 */
export function tokenTiming(e: AuditEvent, policy: EnrichmentPolicy): TokenTiming {
  const t = e.token;
  if (!t) return { tokenAgeSec: null, tokenRemainingSec: null, lifetimeExceedsPolicy: false };
  const now = Math.floor(e.occurredAt / 1000);
  const start = t.iat ?? t.nbf;
  const max = policy.maxLifetimeSec[t.typ] ?? policy.maxLifetimeSec.unknown;
  return {
    tokenAgeSec: t.iat === null ? null : now - t.iat,
    tokenRemainingSec: t.exp === null ? null : t.exp - now,
    lifetimeExceedsPolicy: t.exp === null ? start !== null : start !== null && t.exp - start > max,
  };
}
