import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CompactSign, compactVerify, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type JWK, type JSONWebKeySet } from 'jose';
import { ARCHIVE_CODES } from './errors.js';

/**
 * Manifest signing keys: Ed25519 (JWS alg EdDSA) with a key id. The private key stays with the
 * archiver (a file readable by it alone); verification needs only the public JWKS, which may hold
 * old keys too, so keys rotate by adding a new kid.
 */
export interface Signer {
  kid: string;
  sign(payload: Buffer): Promise<string>;
}

export async function generateSigningKey(
  dir: string,
  kid = `archive-${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString('hex')}`,
): Promise<{ privateFile: string; jwksFile: string; kid: string }> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const priv = { ...(await exportJWK(privateKey)), kid, alg: 'EdDSA' };
  const pub = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const privateFile = path.join(dir, `${kid}.private.jwk.json`);
  await fs.writeFile(privateFile, JSON.stringify(priv), { mode: 0o600, flag: 'wx' });
  const jwksFile = path.join(dir, 'archive-public.jwks.json');
  let jwks: JSONWebKeySet = { keys: [] };
  try {
    jwks = JSON.parse(await fs.readFile(jwksFile, 'utf8')) as JSONWebKeySet;
  } catch {
    // first key
  }
  jwks.keys.push(pub as JWK);
  await fs.writeFile(jwksFile, JSON.stringify(jwks, null, 2));
  return { privateFile, jwksFile, kid };
}

export async function loadSigner(privateFile: string): Promise<Signer> {
  const jwk = JSON.parse(await fs.readFile(privateFile, 'utf8')) as JWK;
  if (!jwk.kid || jwk.crv !== 'Ed25519' || !jwk.d) throw ARCHIVE_CODES.AUDIT_ERR_ARCHIVE_KEY_INVALID.create(privateFile);
  const key = await importJWK(jwk, 'EdDSA');
  return { kid: jwk.kid, sign: (payload) => new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA', kid: jwk.kid! }).sign(key) };
}

export async function loadJwks(file: string): Promise<JSONWebKeySet> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as JSONWebKeySet;
}

export type VerifyResult = { ok: true; payload: Buffer; kid: string } | { ok: false; reason: 'unknown-key' | 'bad-signature' | 'malformed' };

export async function verifyJws(jws: string, jwks: JSONWebKeySet): Promise<VerifyResult> {
  let kid = '';
  try {
    kid = (JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString()) as { kid?: string }).kid ?? '';
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!jwks.keys.some((k) => k.kid === kid)) return { ok: false, reason: 'unknown-key' };
  try {
    const r = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] });
    return { ok: true, payload: Buffer.from(r.payload), kid };
  } catch (err) {
    const code = (err as { code?: string }).code;
    return {
      ok: false,
      reason: code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ? 'bad-signature' : code === 'ERR_JWKS_NO_MATCHING_KEY' ? 'unknown-key' : 'malformed',
    };
  }
}
