import { createHash } from 'node:crypto';

/**
 * The token fingerprint every audit event carries instead of the token: lower-case hex SHA-256
 * of the token exactly as presented (UTF-8). Stable across services, so events about the same
 * token join on it, and useless for replaying the token.
 */
export function tokenFingerprint(token: string | Buffer): string {
  return createHash('sha256').update(token).digest('hex');
}
