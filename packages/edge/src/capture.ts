import { createHash, type Hash } from 'node:crypto';
import type { Actor, Body } from '@jwt-audit/events';
import { bearerToken, tokenFingerprint } from '@jwt-audit/jwt';

/** A secret header value's fingerprint, keyed (fingerprint-key.ts): `hmac:<key id>:<hex>`. */
export type SecretFingerprint = (value: string) => string;

/**
 * What an exchange's event keeps: an allow-list of headers, secret headers only as fingerprints,
 * bodies per route and per role/scope up to a size cap, and sampling for low-value events.
 */
export type BodyCapture = 'none' | 'request' | 'response' | 'both';

export interface CapturePolicy {
  /** Lower-case header names kept verbatim. */
  headers: string[];
  bodies: BodyCapture;
  /** Bytes of a body kept; the rest is counted and hashed, and `truncated` set. */
  maxBodyBytes: number;
}

export interface CaptureRule {
  /** Applies when the verified actor has any of these roles ... */
  roles?: string[];
  /** ... or any of these scopes. */
  scopes?: string[];
  bodies?: BodyCapture;
  headers?: string[];
  maxBodyBytes?: number;
}

export interface SamplingRule {
  /** Route name or path prefix the rule covers. */
  route?: string;
  pathPrefix?: string;
  /** Status class ("2xx") or exact status the rule covers; default 2xx. */
  status?: string;
  /** Fraction of matching http.exchange / token.validated events kept (0..1). */
  rate: number;
}

/** Always fingerprinted, never published, whatever the configuration says. */
export const ALWAYS_SECRET = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'] as const;
const MAX_HEADER_CHARS = 1024;

export function secretHeaderSet(extra: string[]): Set<string> {
  return new Set([...ALWAYS_SECRET, ...extra.map((h) => h.toLowerCase())]);
}

/** The capture policy for one exchange: route policy, then the first role/scope rule the actor matches. */
export function resolvePolicy(base: CapturePolicy, route: Partial<CapturePolicy> | undefined, rules: CaptureRule[], actor: Actor | null): CapturePolicy {
  let p: CapturePolicy = route ? { ...base, ...route } : base;
  if (actor && rules.length > 0) {
    const rule = rules.find((r) => r.roles?.some((x) => actor.roles.includes(x)) || r.scopes?.some((x) => actor.scopes.includes(x)));
    if (rule) {
      p = {
        headers: rule.headers ?? p.headers,
        bodies: rule.bodies ?? p.bodies,
        maxBodyBytes: rule.maxBodyBytes ?? p.maxBodyBytes,
      };
    }
  }
  return p;
}

/** A token whose fingerprint is already known (the verifier computed it), so it is not hashed twice. */
export interface KnownToken {
  token: string;
  fingerprint: string;
}

function fingerprintValue(name: string, value: string, keyed: SecretFingerprint, known: KnownToken | undefined): string {
  // An Authorization bearer value is fingerprinted as the bare token, so it joins token.fingerprint
  // (a token carries its signature's entropy: its SHA-256 cannot be guessed back). Everything else
  // (Basic credentials, cookies, API keys) may be guessable: keyed.
  if (name === 'authorization' || name === 'proxy-authorization') {
    const b = bearerToken(value);
    if ('token' in b) return `sha256:${known && known.token === b.token ? known.fingerprint : tokenFingerprint(b.token)}`;
  }
  return keyed(value);
}

/**
 * Headers as the event keeps them. Secret headers (present) become fingerprints (each value of
 * a repeated header separately); allow-listed ones are kept, bounded; everything else is dropped.
 */
export function captureHeaders(
  raw: Record<string, string | string[] | number | undefined>,
  allow: ReadonlySet<string>,
  secret: ReadonlySet<string>,
  keyed: SecretFingerprint,
  known?: KnownToken,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    if (secret.has(name)) {
      const values = Array.isArray(v) ? v : [String(v)];
      out[name] = values.map((x) => fingerprintValue(name, x, keyed, known)).join(', ');
    } else if (allow.has(name)) {
      const s = Array.isArray(v) ? v.join(', ') : String(v);
      out[name] = s.length > MAX_HEADER_CHARS ? s.slice(0, MAX_HEADER_CHARS) : s;
    }
  }
  return out;
}

const TEXTUAL = /^(text\/|application\/(json|[\w.+-]+\+json|x-www-form-urlencoded|xml|[\w.+-]+\+xml|graphql|javascript|problem\+json))/i;

export function isTextual(contentType: string | null): boolean {
  return contentType !== null && TEXTUAL.test(contentType);
}

/** Accumulates a streamed body: the first `cap` bytes, the total size and a SHA-256 of it all. */
export class BodyRecorder {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  size = 0;
  private readonly hash: Hash = createHash('sha256');

  constructor(private readonly cap: number) {}

  push(chunk: Buffer | string): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.size += b.length;
    this.hash.update(b);
    if (this.kept < this.cap) {
      const part = b.length <= this.cap - this.kept ? b : b.subarray(0, this.cap - this.kept);
      this.chunks.push(part);
      this.kept += part.length;
    }
  }

  /** The bytes kept (at most the cap). */
  head(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }

  toBody(contentType: string | null): Body {
    const truncated = this.size > this.kept;
    const sha256 = this.hash.digest('hex');
    if (!isTextual(contentType)) return { contentType, size: this.size, truncated: false, content: null, sha256 };
    return { contentType, size: this.size, truncated, content: this.head().toString('utf8'), sha256: truncated ? sha256 : null };
  }
}

/** Sampling decision for a low-value event; rejections and failures are never sampled away. */
export function sampled(rules: SamplingRule[], route: string | null, path: string, status: number, random: () => number = Math.random): boolean {
  for (const r of rules) {
    if (r.route !== undefined && r.route !== route) continue;
    if (r.pathPrefix !== undefined && !path.startsWith(r.pathPrefix)) continue;
    const s = r.status ?? '2xx';
    const match = /^\dxx$/i.test(s) ? Math.floor(status / 100) === Number(s[0]) : Number(s) === status;
    if (!match) continue;
    return random() < r.rate;
  }
  return true;
}
