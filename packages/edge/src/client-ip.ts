import { BlockList, isIP } from 'node:net';
import type { Network } from '@jwt-audit/events';

/**
 * The client IP from a trusted-proxy chain. X-Forwarded-For is believed only as far as it was
 * written by proxies we trust: starting from the socket peer, walk the chain right to left while
 * the address is a trusted proxy; the first untrusted address is the client. With no trusted
 * proxies configured, the socket peer is the client and X-Forwarded-For is recorded, not believed.
 */
export interface TrustedProxies {
  isTrusted(ip: string): boolean;
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

/** `entries`: IPs and CIDRs ("10.0.0.0/8", "::1", "fd00::/8"). Throws on an invalid entry. */
export function trustedProxies(entries: string[]): TrustedProxies {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const ip = normalizeIp(addr);
    if (!ip) throw new Error(`trustedProxies: ${JSON.stringify(e)} is not an IP address or CIDR`);
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, type);
    else {
      const n = Number(bits);
      if (!Number.isInteger(n) || n < 0 || n > (type === 'ipv4' ? 32 : 128)) throw new Error(`trustedProxies: bad prefix length in ${JSON.stringify(e)}`);
      list.addSubnet(ip, n, type);
    }
  }
  // BlockList.check builds a SocketAddress per call; with nothing trusted there is nothing to check
  if (entries.length === 0) return { isTrusted: () => false };
  return {
    isTrusted(ip) {
      const n = normalizeIp(ip);
      return n !== null && list.check(n, isIP(n) === 6 ? 'ipv6' : 'ipv4');
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

export function networkOf(remoteAddress: string | undefined, xff: string | string[] | undefined, userAgent: string | undefined, trusted: TrustedProxies): Network {
  const forwardedFor = parseForwardedFor(xff);
  let clientIp = normalizeIp(remoteAddress);
  if (clientIp && trusted.isTrusted(clientIp)) {
    for (let i = forwardedFor.length - 1; i >= 0; i--) {
      const hop = normalizeIp(forwardedFor[i]);
      if (!hop) break; // garbage in the chain: stop at the last address we could trust
      clientIp = hop;
      if (!trusted.isTrusted(hop)) break;
    }
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
