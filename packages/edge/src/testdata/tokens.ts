import { createHmac } from 'node:crypto';
import { createVerifier, staticKeyStore, type Verifier } from '@jwt-audit/jwt';

/** HS256 tokens and a verifier for them: real signatures, no key files. */
export const SECRET = 'edge-unit-test-secret-0123456789abcdef';

export function sign(claims: Record<string, unknown>, secret = SECRET): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iat: now, exp: now + 300, ...claims })}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export async function testVerifier(): Promise<Verifier> {
  return createVerifier({ keys: await staticKeyStore([{ kid: 'k', secret: SECRET }]), algorithms: ['HS256'] });
}
