import type { AuditEvent, Enrichment } from '@jwt-audit/events';
import { checkAuthorization } from './authorization.js';
import type { AsnLookup, GeoLookup } from './geo.js';
import { inspectIp } from './ip.js';
import type { EnrichmentPolicy } from './policy.js';
import { correlateSession, type SessionIndex } from './session.js';
import { tokenTiming } from './token-timing.js';
import { parseUserAgent } from './user-agent.js';

/** I/O and state handed in, so `enrich` itself only maps data to data. */
export interface EnrichmentLookups {
  geo?: GeoLookup | null;
  asn?: AsnLookup | null;
  userAgent?: (ua: string) => ReturnType<typeof parseUserAgent>;
  sessions?: SessionIndex;
  /** Clock for `enrichedAt` (epoch ms). */
  now?: () => number;
}

/**
 * Adds `event.enrichment`: user agent, IP class, geo and ASN (public addresses only, when a
 * database is configured), token age / remaining lifetime / lifetime over policy, route -> scopes
 * check, session id. Never throws on odd input: a field it cannot work out stays null.
 */
export function enrich(event: AuditEvent, lookups: EnrichmentLookups, policy: EnrichmentPolicy): AuditEvent {
  const rawIp = event.network?.clientIp ?? null;
  const inspected = rawIp ? inspectIp(rawIp) : null;
  const ipClass = inspected?.ipClass ?? null;
  const publicIp = ipClass === 'public' ? inspected!.ip : null;
  const ua = event.network?.userAgent ?? null;
  const enrichment: Enrichment = {
    geo: publicIp && lookups.geo ? lookups.geo(publicIp) : null,
    asn: publicIp && lookups.asn ? lookups.asn(publicIp) : null,
    userAgent: ua ? (lookups.userAgent ?? parseUserAgent)(ua) : null,
    ipClass,
    ...tokenTiming(event, policy),
    authorization: checkAuthorization(event, policy.routes),
    sessionId: correlateSession(event, lookups.sessions),
    enrichedAt: (lookups.now ?? Date.now)(),
  };
  return { ...event, enrichment };
}
