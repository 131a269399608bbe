import { randomBytes } from 'node:crypto';
import { activeKey, parseKeyRing, type MaskingKey } from '@jwt-audit/masking';
import type { Logger } from '@jwt-audit/runtime';

/**
 * The key secret header values are fingerprinted with (Cookie, Set-Cookie, x-api-key, Basic
 * credentials, `capture.secretHeaders`): `hmac:<key id>:<first 128 bits of HMAC-SHA256, hex>`,
 * the masker's pseudonym scheme and key ring (packages/masking keys.ts), so one mechanism serves
 * both and the masker leaves these values as they are. An unkeyed SHA-256 of a password or a
 * session cookie is one dictionary run away from anyone who reads the index; a keyed one is not.
 *
 * The ring comes from `fingerprint.keys` (`id:secret,...`, AUDIT_FINGERPRINT_KEYS or
 * AUDIT_FINGERPRINT_KEYS_FILE); the first key is active unless `fingerprint.activeKeyId` names
 * another. Rotation: add a key in front (or name it active) and keep the old ones in the ring,
 * so `audit fingerprint --header <name> --key-id <old>` still computes what older events carry.
 * With no key configured, a random key of this process is used (id `ephemeral-<hex>`) and a
 * warning logged: fingerprints are still irreversible but do not correlate across restarts or
 * instances, and nobody can compute them later.
 */
export function fingerprintKey(config: { keys?: string; activeKeyId?: string }, logger: Logger): MaskingKey {
  if (config.keys) return activeKey(parseKeyRing(config.keys, config.activeKeyId));
  logger.warn(
    'no fingerprint key configured (AUDIT_FINGERPRINT_KEYS): secret header values get a random key of this process, and their fingerprints do not correlate across restarts or instances',
  );
  return { id: `ephemeral-${randomBytes(4).toString('hex')}`, secret: randomBytes(32) };
}
