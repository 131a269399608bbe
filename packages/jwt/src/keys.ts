import { calculateJwkThumbprint, importJWK, importSPKI, type CryptoKey, type JWK } from 'jose';
import { jwkFitsAlg } from './algorithms.js';
import { JWT_ERRORS, JwksFetchError, JwtConfigError } from './errors.js';

/** What a JWKS refresh changed; the interceptor turns it into a `key.rotated` event. */
export interface KeySetChange {
  jwksUrl: string | null;
  added: string[];
  removed: string[];
  current: string[];
}

export type KeyLookup =
  | { ok: true; keys: CryptoKey[] | Uint8Array[] }
  | { ok: false; reason: 'unknown_kid'; detail: string };

/** Where verification keys come from. */
export interface KeyStore {
  /** true when every key is public (RSA/EC/OKP): HMAC algorithms are then refused. */
  readonly asymmetric: boolean;
  /** Candidate keys for a token header (by kid, else every key that fits alg). */
  lookup(kid: string | undefined, alg: string): Promise<KeyLookup>;
  /** The key ids currently known (thumbprints for keys without kid). */
  kids(): string[];
  /** Loads the key set now (a remote store fetches); rejects if it cannot. */
  refresh(): Promise<void>;
}

interface Entry {
  id: string;
  jwk: JWK;
  imported: Map<string, Promise<CryptoKey | Uint8Array>>;
}

async function entriesOf(jwks: JWK[]): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const jwk of jwks) {
    if (!jwk || typeof jwk !== 'object' || typeof jwk.kty !== 'string') continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue; // encryption keys never verify signatures
    const id = typeof jwk.kid === 'string' ? jwk.kid : await calculateJwkThumbprint(jwk).catch(() => '');
    if (id) out.push({ id, jwk, imported: new Map() });
  }
  return out;
}

async function candidates(entries: Map<string, Entry>, kid: string | undefined, alg: string): Promise<(CryptoKey | Uint8Array)[] | undefined> {
  const pool = kid !== undefined ? [entries.get(kid)].filter((e): e is Entry => e !== undefined) : [...entries.values()];
  if (kid !== undefined && pool.length === 0) return undefined;
  const out: (CryptoKey | Uint8Array)[] = [];
  for (const e of pool) {
    if (!jwkFitsAlg(e.jwk, alg)) continue;
    let p = e.imported.get(alg);
    if (!p) {
      p = importJWK(e.jwk, alg);
      e.imported.set(alg, p);
    }
    try {
      out.push(await p);
    } catch {
      e.imported.delete(alg); // an unusable key (bad parameters) simply does not match
    }
  }
  return out;
}

function lookupResult(found: (CryptoKey | Uint8Array)[] | undefined, kid: string | undefined, alg: string): KeyLookup {
  if (found === undefined) return { ok: false, reason: 'unknown_kid', detail: 'no key with this kid in the key set' };
  if (found.length === 0) return { ok: false, reason: 'unknown_kid', detail: kid !== undefined ? `key ${kid.slice(0, 64)} cannot verify ${alg}` : `no key in the set can verify ${alg}` };
  return { ok: true, keys: found as CryptoKey[] };
}

export type StaticKey = JWK | { kid?: string; alg: string; pem: string } | { kid?: string; secret: string | Uint8Array };

/**
 * Static keys: public JWKs, SPKI PEM public keys, or HMAC secrets (all of one kind: a verifier
 * never mixes shared secrets with public keys, which is what makes alg confusion possible).
 */
export async function staticKeyStore(keys: StaticKey[]): Promise<KeyStore> {
  if (keys.length === 0) throw new JwtConfigError('static keys: at least one key is required');
  const jwks: JWK[] = [];
  for (const [i, k] of keys.entries()) {
    if ('pem' in k) {
      const key = await importSPKI(k.pem, k.alg, { extractable: true }).catch((err: unknown) => {
        throw new JwtConfigError(`static key ${i}: not an SPKI public key for ${k.alg}: ${(err as Error).message}`);
      });
      const { exportJWK } = await import('jose');
      jwks.push({ ...(await exportJWK(key)), alg: k.alg, ...(k.kid ? { kid: k.kid } : {}) });
    } else if ('secret' in k) {
      const bytes = typeof k.secret === 'string' ? Buffer.from(k.secret, 'utf8') : Buffer.from(k.secret);
      if (bytes.length < 32) throw new JwtConfigError(`static key ${i}: an HMAC secret needs at least 32 bytes`);
      jwks.push({ kty: 'oct', k: bytes.toString('base64url'), ...(k.kid ? { kid: k.kid } : {}) });
    } else {
      if ('d' in k && k.d !== undefined) throw new JwtConfigError(`static key ${i}: a private key was given; configure the public key only`);
      jwks.push(k);
    }
  }
  const symmetric = jwks.filter((j) => j.kty === 'oct').length;
  if (symmetric > 0 && symmetric < jwks.length) throw new JwtConfigError('static keys: HMAC secrets and public keys cannot be mixed');
  const entries = new Map((await entriesOf(jwks)).map((e) => [e.id, e]));
  return {
    asymmetric: symmetric === 0,
    async lookup(kid, alg) {
      return lookupResult(await candidates(entries, kid, alg), kid, alg);
    },
    kids: () => [...entries.keys()],
    refresh: async () => {},
  };
}

export interface RemoteJwksOptions {
  url: string;
  /** Refetch when the set is older than this (ms). Default 10 min. */
  cacheMaxAgeMs?: number;
  /** Minimum time between two fetches triggered by an unknown kid (ms). Default 30 s. */
  cooldownMs?: number;
  /** Fetch timeout (ms). Default 5 s. */
  timeoutMs?: number;
  /** Largest JWKS document accepted (bytes). Default 512 KiB. */
  maxBytes?: number;
  /** Called when a refresh changes the set of key ids (not on the first load). */
  onChange?: (change: KeySetChange) => void;
  onError?: (err: JwksFetchError) => void;
  now?: () => number;
}

/**
 * A JWKS fetched from a URL: cached, refreshed when stale (a failed refresh keeps the keys it
 * has), refetched when a token names a kid the set lacks (at most once per cooldown, and one
 * fetch in flight at a time, so a flood of made-up kids cannot turn into a flood of fetches).
 */
export function remoteJwksStore(opts: RemoteJwksOptions): KeyStore & { readonly url: string; readonly fetchCount: number } {
  const maxAge = opts.cacheMaxAgeMs ?? 600_000;
  const cooldown = opts.cooldownMs ?? 30_000;
  const timeout = opts.timeoutMs ?? 5_000;
  const maxBytes = opts.maxBytes ?? 512 * 1024;
  const now = opts.now ?? Date.now;
  let entries: Map<string, Entry> | undefined;
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let inflight: Promise<void> | undefined;
  let fetchCount = 0;
  try {
    new URL(opts.url);
  } catch {
    throw new JwtConfigError(`jwksUrl ${JSON.stringify(opts.url)} is not a URL`);
  }

  const load = async (): Promise<void> => {
    attemptedAt = now();
    fetchCount++;
    let doc: unknown;
    try {
      const res = await fetch(opts.url, { signal: AbortSignal.timeout(timeout), headers: { accept: 'application/json, application/jwk-set+json' }, redirect: 'error' });
      if (!res.ok) throw JWT_ERRORS.AUDIT_ERR_JWKS_FETCH.create(`HTTP ${res.status}`);
      const len = Number(res.headers.get('content-length') ?? 0);
      if (len > maxBytes) throw JWT_ERRORS.AUDIT_ERR_JWKS_FETCH.create(`JWKS larger than ${maxBytes} bytes`);
      const text = await res.text();
      if (text.length > maxBytes) throw JWT_ERRORS.AUDIT_ERR_JWKS_FETCH.create(`JWKS larger than ${maxBytes} bytes`);
      doc = JSON.parse(text);
    } catch (err) {
      throw new JwksFetchError(`cannot fetch JWKS ${opts.url}: ${(err as Error).message}`, err);
    }
    const keys = (doc as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) throw new JwksFetchError(`JWKS ${opts.url} has no "keys" array`);
    // A public JWKS holding symmetric keys is a misconfiguration; they are never used.
    const next = new Map((await entriesOf(keys.filter((k: JWK) => k?.kty !== 'oct') as JWK[])).map((e) => [e.id, e]));
    if (entries) {
      // keep imported keys for unchanged entries
      for (const [id, e] of next) {
        const old = entries.get(id);
        if (old && JSON.stringify(old.jwk) === JSON.stringify(e.jwk)) next.set(id, old);
      }
      const added = [...next.keys()].filter((k) => !entries!.has(k));
      const removed = [...entries.keys()].filter((k) => !next.has(k));
      if (added.length > 0 || removed.length > 0) {
        entries = next;
        opts.onChange?.({ jwksUrl: opts.url, added, removed, current: [...next.keys()] });
      }
    }
    entries = next;
    fetchedAt = now();
  };

  const refresh = (): Promise<void> => {
    inflight ??= load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };

  const ensure = async (): Promise<void> => {
    if (!entries) {
      if (now() - attemptedAt < Math.min(cooldown, 1_000) && !inflight) throw new JwksFetchError(`JWKS ${opts.url} unavailable`);
      await refresh();
    } else if (now() - fetchedAt > maxAge && now() - attemptedAt >= Math.min(cooldown, maxAge)) {
      await refresh().catch((err: JwksFetchError) => opts.onError?.(err)); // stale keys beat no keys
    }
  };

  return {
    url: opts.url,
    get fetchCount() {
      return fetchCount;
    },
    asymmetric: true,
    async lookup(kid, alg) {
      try {
        await ensure();
      } catch (err) {
        opts.onError?.(err as JwksFetchError);
        return { ok: false, reason: 'unknown_kid', detail: 'key set unavailable' };
      }
      let found = await candidates(entries!, kid, alg);
      if (found === undefined && now() - attemptedAt >= cooldown) {
        try {
          await refresh();
        } catch (err) {
          opts.onError?.(err as JwksFetchError);
        }
        found = await candidates(entries!, kid, alg);
      }
      return lookupResult(found, kid, alg);
    },
    kids: () => [...(entries?.keys() ?? [])],
    refresh,
  };
}
