import type { AuditEvent } from '@jwt-audit/events';
import { asnOf, clientIp, deviceOf, isVerified } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * token-multi-origin: one token (jti) presented from more distinct IPs, ASNs (networks) or user
 * agents than allowed within a window.
 *
 * Catches: a bearer token copied out of its client (XSS, malware, a leaked log or HAR file) and
 * replayed elsewhere, or one token shared between several machines or people. A phone moving
 * between Wi-Fi and mobile data changes IP and ASN a few times: the defaults allow that.
 *
 * State: per jti, the distinct values seen in the window with their last time and event id (at
 * most limit + 1 per dimension).
 */
export interface TokenMultiOriginConfig extends CommonRuleConfig {
  windowMs: number;
  maxIps: number;
  maxAsns: number;
  maxUserAgents: number;
}

type Seen = Array<[value: string, lastAt: number, eventId: string]>;
interface Entry {
  ip: Seen;
  asn: Seen;
  ua: Seen;
}

function observe(seen: Seen, value: string | null, at: number, id: string, windowMs: number, limit: number): void {
  for (let i = seen.length - 1; i >= 0; i--) if (seen[i]![1] <= at - windowMs) seen.splice(i, 1);
  if (value === null) return;
  const hit = seen.find((s) => s[0] === value);
  if (hit) {
    hit[1] = Math.max(hit[1], at);
    hit[2] = id;
  } else {
    seen.push([value, at, id]);
    if (seen.length > limit + 1) seen.shift();
  }
}

export const tokenMultiOrigin: RuleDefinition<TokenMultiOriginConfig, Entry> = {
  id: 'token-multi-origin',
  name: 'token-multi-origin',
  partitioning: 'subject',
  catches: 'one token used from more IPs / networks / user agents than allowed in a window: token theft or sharing',
  defaults: { enabled: true, severity: 'high', suppressMs: 30 * 60_000, maxKeys: 500_000, windowMs: 10 * 60_000, maxIps: 3, maxAsns: 2, maxUserAgents: 2 },
  // verified presentations only: a rejected token's jti can be forged to frame someone
  key: (e: AuditEvent) => ((e.kind === 'token.validated' || e.kind === 'http.exchange') && isVerified(e) && clientIp(e) ? e.token!.jti ?? `fp:${e.token!.fingerprint}` : null),
  ttlMs: (c) => c.windowMs,
  step(entry, e, c) {
    const state = entry ?? { ip: [], asn: [], ua: [] };
    const asn = asnOf(e);
    observe(state.ip, clientIp(e), e.occurredAt, e.id, c.windowMs, c.maxIps);
    observe(state.asn, asn === null ? null : String(asn), e.occurredAt, e.id, c.windowMs, c.maxAsns);
    observe(state.ua, deviceOf(e), e.occurredAt, e.id, c.windowMs, c.maxUserAgents);
    const over: string[] = [];
    if (state.ip.length > c.maxIps) over.push(`${state.ip.length} IPs`);
    if (state.asn.length > c.maxAsns) over.push(`${state.asn.length} networks`);
    if (state.ua.length > c.maxUserAgents) over.push(`${state.ua.length} user agents`);
    if (over.length === 0) return { entry: state };
    const all = [...state.ip, ...state.asn, ...state.ua];
    const evidence = [...new Set(all.sort((a, b) => a[1] - b[1]).map((s) => s[2]))];
    const first = Math.min(...all.map((s) => s[1]));
    return {
      entry: state,
      findings: [{
        evidence, count: evidence.length, windowMs: c.windowMs, firstSeen: first,
        description: `token ${e.token!.jti ?? e.token!.fingerprint.slice(0, 16)} used from ${over.join(', ')} within ${c.windowMs / 60_000} min`,
        attributes: { ips: state.ip.map((s) => s[0]).join(','), asns: state.asn.map((s) => s[0]).join(',') },
      }],
    };
  },
};
