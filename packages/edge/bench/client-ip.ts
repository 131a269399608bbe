/**
 * The client IP from X-Forwarded-For: networkOf (proxy-addr's walk over normalised entries, plus
 * the forwardedFor list) against the hand-written BlockList walk it replaced, measured in the same
 * run on the same chains. Prints the ratio (networkOf time / hand-written time; below 1 is faster).
 *   npm run bench -w packages/edge        (BENCH_N=200000 by default)
 */
import { BlockList, isIP } from 'node:net';
import { networkOf, normalizeIp, parseForwardedFor, trustedProxies } from '../src/index.js';

const N = Number(process.env.BENCH_N ?? 200_000);
const list = new BlockList();
list.addSubnet('10.0.0.0', 8, 'ipv4');
list.addSubnet('192.168.0.0', 16, 'ipv4');
list.addAddress('::1', 'ipv6');
const trusted = trustedProxies(['10.0.0.0/8', '192.168.0.0/16', '::1']);

/** The walk as it was before proxy-addr (the baseline). */
function handWritten(peer: string, xff: string): string | null {
  const hops = parseForwardedFor(xff);
  const check = (ip: string) => list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  let client = normalizeIp(peer);
  if (client && check(client)) {
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeIp(hops[i]);
      if (!hop) break;
      client = hop;
      if (!check(hop)) break;
    }
  }
  return client;
}

const chains: Array<[string, string]> = [
  ['10.0.0.1', '203.0.113.7, 10.0.0.2'],
  ['10.0.0.1', '198.51.100.1'],
  ['203.0.113.5', '1.2.3.4'],
  ['10.0.0.1', 'unknown, 203.0.113.9, 192.168.1.1, 10.0.0.3'],
];
for (const [p, x] of chains) if (handWritten(p, x) !== networkOf(p, x, undefined, trusted).clientIp) throw new Error(`disagree on ${p} ${x}`);

function time(f: (peer: string, xff: string) => unknown): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const c = chains[i & 3]!;
    f(c[0], c[1]);
  }
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const ratios: number[] = [];
for (let round = 0; round < 3; round++) {
  const base = time(handWritten);
  const now = time((p, x) => networkOf(p, x, undefined, trusted));
  ratios.push(now / base);
  process.stdout.write(
    `round ${round + 1}: hand-written walk ${base.toFixed(0)} ms, networkOf ${now.toFixed(0)} ms for ${N} chains: ${(now / base).toFixed(2)} x\n`,
  );
}
ratios.sort((a, b) => a - b);
process.stdout.write(`median ${ratios[1]!.toFixed(2)} x the hand-written walk's time\n`);
