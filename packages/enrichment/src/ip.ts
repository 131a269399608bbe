import ipaddr from 'ipaddr.js';

export type IpClass = 'private' | 'loopback' | 'reserved' | 'public';

/**
 * private   RFC 1918, RFC 6598 shared address space (carrier-grade NAT), IPv6 unique local fc00::/7
 * loopback  127/8, ::1
 * reserved  everything special-purpose that is neither: unspecified, link-local, multicast,
 *           broadcast, documentation/benchmarking/test nets, 240/4, as112, discard, orchid ...
 * public    global unicast, including the 6to4 and Teredo transition ranges
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) is classified as its IPv4 address. Not an IP -> null.
 */
export function classifyIp(raw: string): IpClass | null {
  const s = raw.trim().replace(/^\[|\](?::\d+)?$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(s)) return null;
  let addr = ipaddr.parse(s);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  // a bare number or short form ("1", "10.1") is valid to inet_aton but never a client address
  if (addr.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(s) && !s.includes(':')) return null;
  switch (addr.range()) {
    case 'unicast':
    case '6to4':
    case 'teredo':
      return 'public';
    case 'private':
    case 'uniqueLocal':
    case 'carrierGradeNat':
      return 'private';
    case 'loopback':
      return 'loopback';
    default:
      return 'reserved';
  }
}

/** The canonical text of an address, as geo databases are keyed (null when not an IP). */
export function normaliseIp(raw: string): string | null {
  const s = raw.trim().replace(/^\[|\](?::\d+)?$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(s)) return null;
  const addr = ipaddr.parse(s);
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address().toString() : addr.toString();
}
