/**
 * Replay must never hit production by mistake: a target that is one of the interceptor's
 * configured upstreams (the services it fronts) is refused unless --allow-production. "The same"
 * is the same server, not the same string: the host compared by every address it resolves to
 * (`localhost` is 127.0.0.1 and ::1), the port with its scheme's default filled in, the path
 * ignored (another path on the production server is still production).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { CLI_ERRORS } from '../errors.js';

export interface ProductionUpstream {
  url: string;
  /** Where it was configured: `--production-upstream`, `AUDIT_INTERCEPTOR_UPSTREAMS (api)` ... */
  source: string;
}

const defaultPort = (u: URL) => (u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80);
const hostOf = (u: URL) =>
  u.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();

async function addresses(host: string): Promise<Set<string>> {
  const out = new Set<string>([host]);
  if (isIP(host)) {
    // ::ffff:127.0.0.1 (which URL writes ::ffff:7f00:1) is 127.0.0.1
    const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
    if (dotted) out.add(dotted[1]!);
    const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(host);
    if (hex) {
      const a = parseInt(hex[1]!, 16);
      const b = parseInt(hex[2]!, 16);
      out.add(`${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`);
    }
    return out;
  }
  try {
    for (const a of await lookup(host, { all: true, verbatim: true })) out.add(a.address.toLowerCase());
  } catch {
    // a name that does not resolve is compared by its name alone
  }
  return out;
}

/** The production upstream the target is, or undefined. */
export async function productionMatch(target: URL, upstreams: ProductionUpstream[]): Promise<ProductionUpstream | undefined> {
  const port = defaultPort(target);
  const mine = await addresses(hostOf(target));
  for (const p of upstreams) {
    let u: URL;
    try {
      u = new URL(p.url);
    } catch {
      continue;
    }
    if (defaultPort(u) !== port) continue;
    const theirs = await addresses(hostOf(u));
    // 0.0.0.0 / :: listen on every address: a target on the same port anywhere local is it
    const wildcard = (s: Set<string>) => s.has('0.0.0.0') || s.has('::');
    if ([...theirs].some((a) => mine.has(a)) || (wildcard(theirs) && [...mine].some(isLoopback)) || (wildcard(mine) && [...theirs].some(isLoopback))) return p;
  }
  return undefined;
}

const isLoopback = (a: string) => a === '::1' || a.startsWith('127.') || a === 'localhost';

/**
 * The production upstreams from the interceptor's own settings (`AUDIT_INTERCEPTOR_UPSTREAMS`, a
 * JSON object of name -> URL, as the interceptor reads it; or the `upstreams` of its config file)
 * and from `--production-upstream`. A setting that cannot be read is an error naming it: a
 * safety check that silently checks nothing is worse than none.
 */
export function productionUpstreams(
  flags: { productionUpstream?: string[]; interceptorConfig?: string },
  environment: NodeJS.ProcessEnv,
): ProductionUpstream[] {
  const out: ProductionUpstream[] = [];
  for (const url of flags.productionUpstream ?? []) out.push({ url, source: '--production-upstream' });
  const fromObject = (v: unknown, where: string) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw CLI_ERRORS.AUDIT_ERR_CLI_USAGE.create(`${where}: expected a JSON object of upstream name -> URL`);
    for (const [name, url] of Object.entries(v)) {
      if (typeof url !== 'string') throw CLI_ERRORS.AUDIT_ERR_CLI_USAGE.create(`${where}: upstream ${JSON.stringify(name)} is not a URL string`);
      out.push({ url, source: `${where} (${name})` });
    }
  };
  const env = environment.AUDIT_INTERCEPTOR_UPSTREAMS;
  if (env !== undefined && env.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env);
    } catch {
      throw CLI_ERRORS.AUDIT_ERR_CLI_USAGE.create('AUDIT_INTERCEPTOR_UPSTREAMS: not JSON (expected {"name": "http://host:port", ...})');
    }
    fromObject(parsed, 'AUDIT_INTERCEPTOR_UPSTREAMS');
  }
  if (flags.interceptorConfig !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(flags.interceptorConfig, 'utf8'));
    } catch (err) {
      throw CLI_ERRORS.AUDIT_ERR_CLI_USAGE.create(`--interceptor-config: cannot read ${flags.interceptorConfig} as JSON (${(err as Error).message})`);
    }
    const ups = (parsed as { upstreams?: unknown } | null)?.upstreams;
    if (ups !== undefined) fromObject(ups, '--interceptor-config upstreams');
  }
  return out;
}
