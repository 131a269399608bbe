import { readFileSync } from 'node:fs';
import { bearerToken, canonicalJws, tokenFingerprint } from '@jwt-audit/jwt';
import { parseKeyRing, pseudonym, type MaskingKeys } from '@jwt-audit/masking';

/** What `audit fingerprint` computes (commands/fingerprint.ts; kept out of commands/ so every other command's start does not load jose and the masking engine). */
export class FingerprintUsageError extends Error {}

function keyRing(env: NodeJS.ProcessEnv): MaskingKeys {
  let spec = env.AUDIT_FINGERPRINT_KEYS;
  const file = env.AUDIT_FINGERPRINT_KEYS_FILE;
  if (spec === undefined && file !== undefined) {
    try {
      spec = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new FingerprintUsageError(`AUDIT_FINGERPRINT_KEYS_FILE: ${(err as Error).message}`);
    }
  }
  if (!spec)
    throw new FingerprintUsageError(
      "--header needs the interceptor's fingerprint keys: set AUDIT_FINGERPRINT_KEYS (id:secret,...) or AUDIT_FINGERPRINT_KEYS_FILE",
    );
  try {
    return parseKeyRing(spec, env.AUDIT_FINGERPRINT_ACTIVE_KEY_ID);
  } catch (err) {
    throw new FingerprintUsageError(`AUDIT_FINGERPRINT_KEYS: ${(err as Error).message}`);
  }
}

export interface FingerprintOptions {
  token?: boolean;
  header?: string;
  keyId?: string;
}

/** What the command prints (its --json form), or a FingerprintUsageError naming what is wrong. */
export function fingerprintOf(raw: string, o: FingerprintOptions, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  if (!o.token === !o.header) throw new FingerprintUsageError('give exactly one of --token or --header <name>');
  if (raw === '') throw new FingerprintUsageError('no value given (argument or stdin)');
  if (o.token) {
    const canonical = canonicalJws(raw);
    return { kind: 'token', fingerprint: tokenFingerprint(raw), jwt: canonical !== null, canonical: canonical === null || canonical === raw };
  }
  const name = o.header!.toLowerCase();
  const bearer = name === 'authorization' || name === 'proxy-authorization' ? bearerToken(raw) : null;
  if (bearer && 'token' in bearer) return { kind: 'bearer', header: name, fingerprint: `sha256:${tokenFingerprint(bearer.token)}` };
  const ring = keyRing(env);
  const id = o.keyId ?? ring.activeKeyId;
  const secret = ring.keys[id];
  if (secret === undefined) throw new FingerprintUsageError(`--key-id ${JSON.stringify(id)} is not in AUDIT_FINGERPRINT_KEYS`);
  return { kind: 'secret', header: name, keyId: id, fingerprint: pseudonym(raw, { id, secret }) };
}
