/**
 * enrich(event, lookups, policy, now) -> the event with `enrichment` filled:
 *   userAgent   parsed with ua-parser-js (1.x, MIT)
 *   ipClass     private | loopback | link-local | reserved | multicast | public (ipaddr.js ranges)
 *   geo, asn    from MaxMind-format databases (GeoLite2/GeoIP2 City and ASN) when configured
 *   token       age (now - iat), remaining lifetime (exp - now), lifetime above policy per token type
 *   authorization  the route's required scopes (policy) against the actor's scopes; a request that
 *               succeeded without them is recorded as a mismatch
 *   sessionId   the token's sid, else `family:<refresh-token family>`
 * Pure: lookups are passed in, `now` too.
 */
import ipaddr from 'ipaddr.js';
import { UAParser } from 'ua-parser-js';
import type { Asn, AuditEvent, Enrichment, Geo, UserAgentInfo } from '@jwt-audit/events';

export interface Lookups {
  geo?: (ip: string) => Geo | null;
  asn?: (ip: string) => Asn | null;
}

export interface EnrichmentPolicy {
  /** Longest acceptable exp - iat per token type, seconds. */
  maxLifetimeSec: { access: number; refresh: number; id: number; unknown: number };
  /** Route template (http.request.route) -> scopes the route requires. */
  routeScopes: Record<string, string[]>;
}

export const DEFAULT_ENRICHMENT_POLICY: EnrichmentPolicy = {
  maxLifetimeSec: { access: 3_600, refresh: 30 * 86_400, id: 3_600, unknown: 86_400 }, // 1 h, 30 d, 1 h, 1 d
  routeScopes: {},
};

const IP_CLASSES: Record<string, string> = {
  private: 'private',
  uniqueLocal: 'private',
  carrierGradeNat: 'private',
  loopback: 'loopback',
  linkLocal: 'link-local',
  multicast: 'multicast',
  unicast: 'public',
  unspecified: 'reserved',
  broadcast: 'reserved',
  reserved: 'reserved',
  benchmarking: 'reserved',
  amt: 'reserved',
  as112: 'reserved',
  deprecated: 'reserved',
  orchid2: 'reserved',
  droneRemoteIdProtocolEntityTags: 'reserved',
  teredo: 'reserved',
  '6to4': 'reserved',
  rfc6145: 'reserved',
  rfc6052: 'reserved',
  discard: 'reserved',
};

export function classifyIp(ip: string): string | null {
  if (!ipaddr.isValid(ip)) return null;
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  // documentation ranges (RFC 5737 / 3849) are not routable: reserved
  const doc4 = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'];
  if (addr.kind() === 'ipv4' && doc4.some((c) => (addr as ipaddr.IPv4).match(ipaddr.IPv4.parseCIDR(c)))) return 'reserved';
  return IP_CLASSES[addr.range()] ?? 'reserved';
}

export function parseUserAgent(ua: string): UserAgentInfo {
  const r = new UAParser(ua).getResult();
  return {
    name: r.browser.name ?? null,
    version: r.browser.version ?? null,
    os: r.os.name ?? null,
    osVersion: r.os.version ?? null,
    device: r.device.model ? [r.device.vendor, r.device.model].filter(Boolean).join(' ') : (r.device.type ?? null),
  };
}

export function enrich(e: AuditEvent, lookups: Lookups, policy: EnrichmentPolicy, now: number): AuditEvent {
  const ip = e.network?.clientIp ?? null;
  const ipClass = ip ? classifyIp(ip) : null;
  const publicIp = ip && ipClass === 'public';
  const t = e.token;
  const nowSec = Math.floor(now / 1000);
  const lifetime = t?.exp !== null && t?.exp !== undefined && t.iat !== null ? t.exp - t.iat : null;
  const route = e.http?.request.route ?? null;
  const required = route ? (policy.routeScopes[route] ?? null) : null;
  const missing = required ? required.filter((s) => !e.actor.scopes.includes(s)) : [];
  const granted = e.outcome === 'success' && (e.http?.response?.status ?? 200) < 400;
  const enrichment: Enrichment = {
    geo: publicIp && lookups.geo ? lookups.geo(ip) : null,
    asn: publicIp && lookups.asn ? lookups.asn(ip) : null,
    userAgent: e.network?.userAgent ? parseUserAgent(e.network.userAgent) : null,
    ipClass,
    tokenAgeSec: t?.iat !== null && t?.iat !== undefined ? nowSec - t.iat : null,
    tokenRemainingSec: t?.exp !== null && t?.exp !== undefined ? t.exp - nowSec : null,
    lifetimeExceedsPolicy: lifetime !== null && lifetime > policy.maxLifetimeSec[t!.typ],
    authorization: required ? { requiredScopes: required, missingScopes: missing, mismatch: missing.length > 0 && granted } : null,
    sessionId: t?.sid ?? e.session?.id ?? (t?.familyId ? `family:${t.familyId}` : null),
    enrichedAt: now,
  };
  return { ...e, enrichment };
}
