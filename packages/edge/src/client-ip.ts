import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import type { Network } from '@jwt-audit/events';
import { EDGE_ERRORS } from './errors.js';

/**
 * The client IP from a trusted-proxy chain. X-Forwarded-For is believed only as far as it was
 * written by proxies we trust: starting from the socket peer, walk the chain right to left while
 * the address is a trusted proxy; the first untrusted address is the client. With no trusted
 * proxies configured, the socket peer is the client and X-Forwarded-For is recorded, not believed.
 * The walk and the trust list are proxy-addr's (Express's reading); what is added here: entries
 * are normalised first (brackets, zones, ports), at most 32 hops of 64 characters are read, and
 * an entry that is not an address ends the walk at the last address believed (proxy-addr would
 * hand it out as the client).
 */
export interface TrustedProxies {
  isTrusted(ip: string): boolean;
  /** proxy-addr's trust function, over normalised addresses */
  readonly trust: (addr: string, i: number) => boolean;
}

const MAX_HOPS = 32;

export function normalizeIp(ip: string | undefined): string | null {
  if (!ip) return null;
  let v = ip.trim();
  if (v.startsWith('[') && v.includes(']')) v = v.slice(1, v.indexOf(']'));
  // a zone ("fe80::1%eth0") names an interface of the host that wrote it; Elasticsearch's ip type refuses it
  const zone = v.indexOf('%');
  if (zone >= 0) v = v.slice(0, zone);
  if (v.toLowerCase().startsWith('::ffff:') && isIP(v.slice(7)) === 4) v = v.slice(7);
  // "1.2.3.4:5678" (some proxies add the port)
  if (isIP(v) === 0 && /^\d+\.\d+\.\d+\.\d+:\d+$/.test(v)) v = v.slice(0, v.lastIndexOf(':'));
  return isIP(v) === 0 ? null : v.toLowerCase();
}

/** What is wrong with each entry of a trustedProxies list (empty: nothing), for a config check that reports every problem at once. */
export function trustedProxyProblems(entries: string[]): string[] {
  const problems: string[] = [];
  for (const e of entries) {
    try {
      proxyaddr.compile([e]);
    } catch (err) {
      problems.push(`trustedProxies: ${JSON.stringify(e)} is not an IP address, CIDR or range name (${(err as Error).message})`);
    }
  }
  return problems;
}

/**
 * `entries`: IPs and CIDRs ("10.0.0.0/8", "::1", "fd00::/8"), an IPv4 netmask ("10.0.0.0/255.0.0.0"),
 * or proxy-addr's names `loopback`, `linklocal`, `uniquelocal`. Throws AUDIT_ERR_EDGE_TRUSTED_PROXIES
 * naming every invalid entry at once.
 */
export function trustedProxies(entries: string[]): TrustedProxies {
  const problems = trustedProxyProblems(entries);
  if (problems.length > 0) throw EDGE_ERRORS.AUDIT_ERR_EDGE_TRUSTED_PROXIES.create(problems.join('; '));
  // with nothing trusted there is nothing to check
  if (entries.length === 0) return { isTrusted: () => false, trust: () => false };
  const trust = proxyaddr.compile(entries);
  return {
    trust,
    isTrusted(ip) {
      const n = normalizeIp(ip);
      return n !== null && trust(n, 0);
    },
  };
}

export function parseForwardedFor(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .slice(-MAX_HOPS)
    .map((s) => s.slice(0, 64));
}

export function networkOf(
  remoteAddress: string | undefined,
  xff: string | string[] | undefined,
  userAgent: string | undefined,
  trusted: TrustedProxies,
): Network {
  const forwardedFor = parseForwardedFor(xff);
  let clientIp = normalizeIp(remoteAddress);
  if (clientIp && trusted.isTrusted(clientIp)) {
    // the hops nearer than the nearest entry that is not an address, normalised for proxy-addr
    const hops: string[] = [];
    for (let i = forwardedFor.length - 1; i >= 0; i--) {
      const hop = normalizeIp(forwardedFor[i]);
      if (!hop) break;
      hops.push(hop);
    }
    const req = { socket: { remoteAddress: clientIp }, headers: { 'x-forwarded-for': hops.reverse().join(', ') } } as unknown as IncomingMessage;
    clientIp = proxyaddr(req, trusted.trust);
  }
  // only addresses go into the event's IP field ("unknown", "_hidden", a typo: counted by invalidForwardedFor instead)
  const addresses: string[] = [];
  for (const f of forwardedFor) {
    const ip = normalizeIp(f);
    if (ip) addresses.push(ip);
  }
  return { clientIp, forwardedFor: addresses, userAgent: userAgent ? userAgent.slice(0, 512) : null };
}

/** How many X-Forwarded-For entries are not IP addresses (RFC 7239 obfuscated identifiers, "unknown", garbage). */
export function invalidForwardedFor(xff: string | string[] | undefined): number {
  let n = 0;
  for (const f of parseForwardedFor(xff)) if (!normalizeIp(f)) n++;
  return n;
}
