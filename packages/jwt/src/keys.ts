import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors as joseErrors,
  importJWK,
  importSPKI,
  type CryptoKey,
  type FetchImplementation,
  type JWK,
} from 'jose';
import { jwkFitsAlg } from './algorithms.js';
import { JWT_ERRORS, JwksFetchError, JwtConfigError } from './errors.js';

/** What a JWKS refresh changed; the interceptor turns it into a `key.rotated` event. */
export interface KeySetChange {
  jwksUrl: string | null;
  added: string[];
  removed: string[];
  current: string[];
}

export type KeyLookup = { ok: true; keys: CryptoKey[] | Uint8Array[] } | { ok: false; reason: 'unknown_kid'; detail: string };

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
  /**
   * Changes whenever the keys the store verifies with change (a key added, removed or replaced
   * under its kid). The verifier remembers a verification under the generation it was made in and
   * does it again under any other, so a removed key verifies nothing more, remembered or not.
   */
  readonly generation: number;
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
  if (found.length === 0)
    return {
      ok: false,
      reason: 'unknown_kid',
      detail: kid !== undefined ? `key ${kid.slice(0, 64)} cannot verify ${alg}` : `no key in the set can verify ${alg}`,
    };
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
    generation: 0,
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
}

/** The key ids of a JWKS's signature keys (the kid, else the RFC 7638 thumbprint), for the rotation diff. */
async function idsOf(keys: JWK[]): Promise<string[]> {
  return (await entriesOf(keys)).map((e) => e.id);
}

/**
 * A JWKS fetched from a URL, by jose's createRemoteJWKSet: cached, refreshed when older than
 * cacheMaxAgeMs, refetched when a token names a kid the set lacks (at most once per cooldown,
 * one fetch in flight at a time, so a flood of made-up kids cannot turn into a flood of fetches).
 * What this layer adds:
 *   - the size cap and no redirects (jose's customFetch);
 *   - entries jose would refuse the whole set for (not objects, no kty) and symmetric keys (a
 *     public JWKS holding them is misconfigured) are dropped, as before;
 *   - the rotation diff: a refresh that changes the key ids calls onChange (key.rotated);
 *   - stale keys beat no keys: a failed refresh keeps verifying with the last set it had, and is
 *     not tried again for the cooldown;
 *   - before the first load succeeds, a failed fetch is not retried for min(cooldown, 1 s), so
 *     an unreachable JWKS is not fetched once per request.
 */
export function remoteJwksStore(opts: RemoteJwksOptions): KeyStore & { readonly url: string; readonly fetchCount: number } {
  const cooldown = opts.cooldownMs ?? 30_000;
  const maxBytes = opts.maxBytes ?? 512 * 1024;
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new JwtConfigError(`jwksUrl ${JSON.stringify(opts.url)} is not a URL`);
  }
  let fetchCount = 0;
  let current: string[] | undefined;
  let lastGood: ReturnType<typeof createLocalJWKSet> | undefined;
  let failedAt = -Infinity;
  let generation = 0;
  let loaded: string | undefined; // the last usable set, serialised: what `generation` counts changes of

  const cappedFetch: FetchImplementation = async (href, init) => {
    fetchCount++;
    const res = await fetch(href, { ...init, redirect: 'error' });
    if (res.status !== 200) throw JWT_ERRORS.AUDIT_ERR_JWKS_FETCH.create(`HTTP ${res.status}`);
    const len = Number(res.headers.get('content-length') ?? 0);
    if (len > maxBytes) throw JWT_ERRORS.AUDIT_ERR_JWKS_FETCH.create(`JWKS larger than ${maxBytes} bytes`);
    const text = await res.text();
    if (text.length > maxBytes) throw JWT_ERRORS.AUDIT_ERR_JWKS_FETCH.create(`JWKS larger than ${maxBytes} bytes`);
    const keys = (JSON.parse(text) as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw JWT_ERRORS.AUDIT_ERR_JWKS_FETCH.create('no "keys" array');
    const usable = keys.filter(
      (k): k is JWK => k !== null && typeof k === 'object' && !Array.isArray(k) && typeof (k as JWK).kty === 'string' && (k as JWK).kty !== 'oct',
    );
    const ids = await idsOf(usable);
    if (current) {
      const added = ids.filter((k) => !current!.includes(k));
      const removed = current.filter((k) => !ids.includes(k));
      if (added.length > 0 || removed.length > 0) {
        current = ids;
        opts.onChange?.({ jwksUrl: opts.url, added, removed, current: ids });
      }
    }
    current = ids;
    lastGood = createLocalJWKSet({ keys: usable });
    const served = JSON.stringify({ keys: usable });
    if (served !== loaded) {
      loaded = served;
      generation++;
    }
    return new Response(served, { status: 200, headers: { 'content-type': 'application/json' } });
  };

  const remote = createRemoteJWKSet(url, {
    timeoutDuration: opts.timeoutMs ?? 5_000,
    cooldownDuration: cooldown,
    cacheMaxAge: opts.cacheMaxAgeMs ?? 600_000,
    [customFetch]: cappedFetch,
  });

  const fetchError = (err: unknown): JwksFetchError => {
    if (err instanceof JwksFetchError) return err;
    const e = err as { message?: string; cause?: { message?: string } };
    return new JwksFetchError(`cannot fetch JWKS ${opts.url}: ${e?.cause?.message ?? e?.message ?? String(err)}`, err);
  };

  /** The keys of `set` that fit kid and alg; undefined when jose says none do. */
  const keysFrom = async (set: typeof remote | NonNullable<typeof lastGood>, kid: string | undefined, alg: string): Promise<CryptoKey[] | undefined> => {
    try {
      return [(await set({ alg, ...(kid !== undefined ? { kid } : {}) })) as CryptoKey];
    } catch (err) {
      if (err instanceof joseErrors.JWKSMultipleMatchingKeys) {
        const out: CryptoKey[] = [];
        for await (const k of err as unknown as AsyncIterable<CryptoKey>) out.push(k);
        return out;
      }
      if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JOSENotSupported) return undefined;
      throw err;
    }
  };

  const noMatch = (kid: string | undefined, alg: string): KeyLookup =>
    kid !== undefined && !current?.includes(kid) ? lookupResult(undefined, kid, alg) : lookupResult([], kid, alg);

  return {
    url: opts.url,
    get fetchCount() {
      return fetchCount;
    },
    get generation() {
      return generation;
    },
    asymmetric: true,
    async lookup(kid, alg) {
      const sinceFailure = Date.now() - failedAt;
      let found: CryptoKey[] | undefined;
      if (!lastGood) {
        if (sinceFailure < Math.min(cooldown, 1_000)) return { ok: false, reason: 'unknown_kid', detail: 'key set unavailable' };
      } else if (sinceFailure < cooldown) {
        // the last refresh failed less than a cooldown ago: verify with the keys we have, do not fetch again yet
        found = await keysFrom(lastGood, kid, alg).catch(() => undefined);
        return found === undefined || found.length === 0 ? noMatch(kid, alg) : { ok: true, keys: found };
      }
      try {
        found = await keysFrom(remote, kid, alg);
      } catch (err) {
        failedAt = Date.now();
        opts.onError?.(fetchError(err));
        if (!lastGood) return { ok: false, reason: 'unknown_kid', detail: 'key set unavailable' };
        found = await keysFrom(lastGood, kid, alg).catch(() => undefined); // stale keys beat no keys
      }
      return found === undefined || found.length === 0 ? noMatch(kid, alg) : { ok: true, keys: found };
    },
    kids: () => [...(current ?? [])],
    refresh: () =>
      remote.reload().catch((err: unknown) => {
        failedAt = Date.now();
        throw fetchError(err);
      }),
  };
}
