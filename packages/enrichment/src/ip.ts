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
  return inspectIp(raw)?.ipClass ?? null;
}

/** The canonical text of an address, as geo databases are keyed (null when not an IP). */
export function normaliseIp(raw: string): string | null {
  return inspectIp(raw)?.ip ?? null;
}

/** Both at once, parsing the address a single time (the enricher needs both for every event). */
export function inspectIp(raw: string): { ip: string; ipClass: IpClass } | null {
  const s = raw
    .trim()
    .replace(/^\[|\](?::\d+)?$/g, '')
    .replace(/%.*$/, '');
  if (!ipaddr.isValid(s)) return null;
  let addr = ipaddr.parse(s);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  // a bare number or short form ("1", "10.1") is valid to inet_aton but never a client address
  else if (addr.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(s)) return null;
  return { ip: addr.toString(), ipClass: rangeClass(addr.range()) };
}

function rangeClass(range: string): IpClass {
  switch (range) {
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
