import type { AuditEvent } from '@jwt-audit/events';
import { asnOf, clientIp, deviceOf, isVerified } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';
import { UNLOCATABLE_ASNS } from './impossible-travel.js';

/**
 * token-multi-origin: one token (jti) used by two parties at once: its uses alternate between
 * network origins (A, B, A, B ...), or it shows up with another device (user agent family), or
 * on more networks or address blocks than allowed, within a window.
 *
 * Catches: a bearer token copied out of its client (XSS, malware, a leaked log or HAR file) and
 * replayed elsewhere while its owner goes on using it, including a copy replayed with the
 * owner's own browser string from an address nearby.
 *
 * Not a copy: a phone whose carrier-grade NAT address changes every few minutes (it moves on and
 * never comes back: no alternation), a phone going from Wi-Fi to mobile data (one switch), an
 * office NAT pool (one /24 and one network are one origin), and a service client's token shared
 * by the pods of a deployment: tokens of a client-credentials grant (the token endpoint said so,
 * or the subject is the client itself, `<client>` or `<client>@clients`) are held by many
 * machines by design, and only the network and device bounds apply to them.
 *
 * State: per jti, the last origins (ASN + /24 or /48) in use order, the returns counted, the
 * devices and networks seen, with times and event ids.
 */
export interface TokenMultiOriginConfig extends CommonRuleConfig {
  windowMs: number;
  /** Returns to an origin the token had left (A, B, A) within the window that raise an alert. */
  maxReturns: number;
  /** Distinct networks (ASNs) allowed within the window. */
  maxAsns: number;
  /** Distinct origins (AS + /24) allowed within the window for a person's token, not counting `churnAsns`. */
  maxOrigins: number;
  /** Networks whose addresses churn by design (mobile carriers' CGNAT pools, VPN exits): their origins are not counted against maxOrigins. */
  churnAsns: string[];
  /** Distinct device families allowed for one token (1: a token belongs to one client). */
  maxUserAgents: number;
}

interface Entry {
  /** origins in use order (most recent last, each once): [origin, lastAt, eventId, ip] */
  o: Array<[string, number, string, string]>;
  /** times and event ids of returns to an earlier origin */
  r: Array<[number, string]>;
  asn: Array<[string, number, string]>;
  ua: Array<[string, number, string]>;
  /** a service (client-credentials) token */
  svc?: 1;
}

/** The origin of a use: network and address block (NAT pools and DHCP stay in one). */
function originOf(e: AuditEvent): string | null {
  const ip = clientIp(e);
  if (!ip) return null;
  const block = ip.includes(':') ? ip.split(':').slice(0, 3).join(':') : ip.split('.').slice(0, 3).join('.');
  return `${asnOf(e) ?? '?'}/${block}`;
}

function isServiceToken(e: AuditEvent): boolean {
  const sub = e.actor.sub;
  const client = e.actor.clientId;
  return sub !== null && client !== null && (sub === client || sub === `${client}@clients`);
}

function distinct(seen: Array<[string, number, string]>, value: string | null, at: number, id: string, windowMs: number): void {
  for (let i = seen.length - 1; i >= 0; i--) if (seen[i]![1] <= at - windowMs) seen.splice(i, 1);
  if (value === null) return;
  const hit = seen.find((s) => s[0] === value);
  if (hit) {
    hit[1] = Math.max(hit[1], at);
    hit[2] = id;
  } else {
    seen.push([value, at, id]);
    if (seen.length > 8) seen.shift();
  }
}

export const tokenMultiOrigin: RuleDefinition<TokenMultiOriginConfig, Entry> = {
  id: 'token-multi-origin',
  name: 'token-multi-origin',
  partitioning: 'subject',
  catches: 'one token used by two parties at once (alternating origins, another device, too many networks): token theft',
  respond: 'revoke the token and its session (refresh-token family), then find how it leaked from the legitimate device (the first origin below)',
  defaults: {
    enabled: true,
    severity: 'high',
    suppressMs: 30 * 60_000,
    maxKeys: 500_000,
    windowMs: 15 * 60_000,
    maxReturns: 2,
    maxAsns: 2,
    maxOrigins: 4,
    maxUserAgents: 1,
    churnAsns: UNLOCATABLE_ASNS,
  },
  // verified presentations only (a rejected token's jti can be forged to frame someone), and the
  // issuance of a client-credentials token (to mark it as a service's)
  key(e: AuditEvent) {
    if (e.kind === 'token.issued') return e.attributes['oauth.grantType'] === 'client_credentials' && e.token?.jti ? e.token.jti : null;
    return (e.kind === 'token.validated' || e.kind === 'http.exchange') && isVerified(e) && clientIp(e)
      ? (e.token!.jti ?? `fp:${e.token!.fingerprint.slice(0, 16)}`)
      : null;
  },
  ttlMs: (c) => c.windowMs,
  step(entry, e, c) {
    const state: Entry = entry ?? { o: [], r: [], asn: [], ua: [] };
    if (e.kind === 'token.issued') {
      state.svc = 1;
      return { entry: state, expiresAt: e.token?.exp ? e.token.exp * 1000 : e.occurredAt + c.windowMs };
    }
    const at = e.occurredAt;
    const service = state.svc === 1 || isServiceToken(e);
    const origin = originOf(e)!;
    const ip = clientIp(e)!;
    const asn = asnOf(e);
    state.o = state.o.filter((x) => x[1] > at - c.windowMs);
    state.r = state.r.filter((x) => x[0] > at - c.windowMs);
    const i = state.o.findIndex((x) => x[0] === origin);
    if (i >= 0 && i !== state.o.length - 1) state.r.push([at, e.id]); // back to an origin it had left
    if (i >= 0) state.o.splice(i, 1);
    state.o.push([origin, at, e.id, ip]);
    if (state.o.length > 8) state.o.shift();
    if (state.r.length > c.maxReturns + 1) state.r.shift();
    distinct(state.asn, asn === null ? null : String(asn), at, e.id, c.windowMs);
    distinct(state.ua, deviceOf(e), at, e.id, c.windowMs);
    const over: string[] = [];
    if (!service && state.r.length >= c.maxReturns && state.o.length >= 2)
      over.push(`alternating between ${state.o.length} origins (${state.r.length} returns)`);
    const counted = state.o.filter((x) => !c.churnAsns.includes(x[0].slice(0, x[0].indexOf('/')))).length;
    if (!service && counted > c.maxOrigins) over.push(`${counted} address blocks`);
    if (state.asn.length > c.maxAsns) over.push(`${state.asn.length} networks`);
    if (state.ua.length > c.maxUserAgents) over.push(`${state.ua.length} devices (${state.ua.map((u) => u[0]).join(' / ')})`);
    if (over.length === 0) return { entry: state, ...(state.svc ? { expiresAt: Math.max(at + c.windowMs, e.token?.exp ? e.token.exp * 1000 : 0) } : {}) };
    const uses: Array<[number, string]> = [
      ...state.o.map((x) => [x[1], x[2]] as [number, string]),
      ...state.r,
      ...state.asn.map((x) => [x[1], x[2]] as [number, string]),
      ...state.ua.map((x) => [x[1], x[2]] as [number, string]),
    ];
    const evidence = [...new Set(uses.sort((a, b) => a[0] - b[0]).map((u) => u[1]))];
    return {
      entry: state,
      findings: [
        {
          evidence,
          count: evidence.length,
          windowMs: c.windowMs,
          firstSeen: Math.min(...uses.map((u) => u[0])),
          description: `${service ? 'service ' : ''}token ${e.token!.jti ?? e.token!.fingerprint.slice(0, 16)} of ${e.actor.sub ?? '?'} used ${over.join(', ')} within ${c.windowMs / 60_000} min: from ${state.o.map((x) => x[3]).join(', ')}`,
          attributes: {
            ips: state.o.map((x) => x[3]).join(','),
            asns: state.asn.map((s) => s[0]).join(','),
            devices: state.ua.map((s) => s[0]).join(' / '),
            serviceToken: String(service),
          },
        },
      ],
      ...(state.svc ? { expiresAt: Math.max(at + c.windowMs, e.token?.exp ? e.token.exp * 1000 : 0) } : {}),
    };
  },
};
